"""Development tools (DynamoDB Local) used by the Makefile, the tests and the benchmark."""
