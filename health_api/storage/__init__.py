"""Storage: repository protocols, the declarative table specs, and the two backends."""
