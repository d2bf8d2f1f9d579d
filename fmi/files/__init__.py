"""Files from outside a run: images, weights files, the authors' published files and their downloads."""
