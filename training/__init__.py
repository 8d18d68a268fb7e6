"""Rebuild models/ from pretrained weights: ``python -m training.build`` (see training/build.py).

Its one job is making the shipped model files, their reports and the manifest; it needs the
``train-backbone`` / ``train-detector`` / ``train-text`` extras (``python -m training.text``
makes the text detector; training.build does not run it until the model ships). The daemon
never imports it: xintud reads only the files this package writes into models/.
"""
