"""Library: place a photo and act on it — move, copy or tag, undo and crash recovery."""
