"""The master sources catalog: survey readers, the NVSS x FIRST x VLASS build, cone search."""
