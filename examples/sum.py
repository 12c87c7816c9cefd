# Reads numbers from standard input and prints their sum.
import sys

print(sum(map(int, sys.stdin.read().split())))
