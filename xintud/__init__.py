"""xintud (芯图): a privacy-first daemon that sorts a photo library on the local CPU."""

__version__ = "0.1.0"
