"""I/O adapters: they fetch raw data (DNS, AWS) and hand it to the pure checks."""
