package dev.ollamapatch.site;

import dev.ollamapatch.elf.ElfFile;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * In-process scanning throughput, one thread. Each benchmark reports seconds per operation; one
 * operation covers {@code size} bytes, which benchmarks/synthetic turns into MB/s (bytes / 10^6 / s).
 *
 * <ul>
 *   <li>{@code scan}: {@link SiteFinder#scan} of a whole file (every region that can hold strings,
 *       then the references into what it found), as {@code apply} and {@code scan} run it;</li>
 *   <li>{@code shimNames}: the shim check's search for the NVML function names the file looks up;</li>
 *   <li>{@code stemSearch}: the byte search alone over 256 MiB of random bytes in the heap.</li>
 * </ul>
 * The file comes from {@code -p file=PATH} (benchmarks/synthetic passes the 512 MiB input and the Go fixture).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.SECONDS)
public class ScanBenchmark {

    @State(Scope.Benchmark)
    public static class FileState {
        @Param({""})
        public String file;
        ElfFile elf;

        @Setup(Level.Trial)
        public void open() throws IOException {
            if (file.isEmpty()) throw new IllegalArgumentException("give the input with -p file=PATH");
            elf = ElfFile.open(Path.of(file));
        }

        @TearDown(Level.Trial)
        public void close() {
            elf.close();
        }
    }

    @State(Scope.Benchmark)
    public static class Buffer {
        byte[] bytes;
        final byte[] stem = LibraryTarget.NVML.stemBytes();

        @Setup(Level.Trial)
        public void fill() {
            bytes = new byte[256 << 20];
            new Random(1).nextBytes(bytes);
            byte[] hit = "libnvidia-ml.so.1".getBytes(StandardCharsets.US_ASCII);
            for (int at = 1 << 20; at < bytes.length - hit.length; at += 16 << 20) {
                System.arraycopy(hit, 0, bytes, at, hit.length);
            }
        }
    }

    @Benchmark
    public ScanResult scan(FileState s) {
        return SiteFinder.scan(s.elf, List.of(LibraryTarget.NVML));
    }

    @Benchmark
    public Set<String> shimNames(FileState s) {
        return ShimCheck.nvmlFunctionNames(s.elf, Set.of());
    }

    @Benchmark
    public void stemSearch(Buffer b, Blackhole bh) {
        int[] hits = {0};
        ByteSearch.forEach(b.bytes, 0, b.bytes.length, b.stem, 0, b.bytes.length, i -> hits[0]++);
        bh.consume(hits[0]);
    }
}
