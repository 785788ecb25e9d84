"""The pixel side: the only package that imports cv2 or holds a frame; everything leaves it as numbers."""
