"""Fakes at the outermost seam: servers that behave like the real providers where it matters."""
