"""HTTP edge: turns requests into calls of the domain modules and DigestErrors into responses."""
