"""Module-level functions the deadline-pool tests run inside workers (pickled by reference)."""

import os


def add(a, b):
    return a + b


def divide(a, b):
    return a / b


def worker_pid():
    return os.getpid()


def spin():
    while True:
        pass


def allocate(megabytes):
    return len(bytearray(megabytes * 1024 * 1024))
