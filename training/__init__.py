"""Rebuild models/ from pretrained weights: ``python -m training.build`` (see training/build.py).

Its one job is making the shipped model files, their reports and the manifest; it needs the
``train-backbone`` / ``train-detector`` extras. The daemon never imports it: xintud reads only
the files this package writes into models/.
"""
