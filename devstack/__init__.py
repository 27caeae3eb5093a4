"""The development stack: real servers started as child processes, the local stack of `make run`."""
