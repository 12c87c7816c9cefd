// Never ends: Kennel stops it at the CPU time limit (exit status 3, "time limit (cpu)").
int main() {
    volatile unsigned long n = 0;
    for (;;) {
        ++n;
    }
}
