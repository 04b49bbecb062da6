package dev.ollamapatch.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code OLLAMA_PATCH_STAGES=1}: each layer's stage times, as thread CPU, on stderr ({@code benchmarks/image}
 * prints them). Off, nothing is measured.
 */
final class Stages {
    static final boolean ON = "1".equals(System.getenv("OLLAMA_PATCH_STAGES"));

    private static final Path SCHEDSTAT = Path.of("/proc/thread-self/schedstat");

    private Stages() {}

    /**
     * The calling thread's CPU time in nanoseconds while stage times are asked for, else 0; -1 when it
     * cannot be read. Read from the kernel ({@code /proc/thread-self/schedstat}: its first field is the
     * time the thread has run on a CPU), not from {@code java.lang.management}, which the release's
     * runtime does not hold.
     */
    static long threadCpu() {
        if (!ON) return 0;
        try {
            String s = Files.readString(SCHEDSTAT);
            return Long.parseLong(s.substring(0, s.indexOf(' ')));
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
