package dev.ollamapatch.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.ollamapatch.patch.Cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Fuzz target for the archive reader as users reach it: the bytes become a release archive
 * ({@code .tgz}, {@code .tar.zst} or {@code .tar}, by their magic), then {@code scan} and
 * {@code apply --dry-run} run on it. Whatever the bytes, the tool ends with a documented exit code,
 * never an internal error, a one-line message when it fails, and nothing written.
 *
 * <p>Regression corpus: {@code src/test/resources/dev/ollamapatch/fuzz/ArchiveFuzzTestInputs/read/}.
 */
class ArchiveFuzzTest {
    private static final Set<Integer> DOCUMENTED = Set.of(0, 3, 4, 5);
    private static final String INTERNAL = "ollama-patch: internal error";

    @FuzzTest(maxDuration = "60s")
    void read(byte[] input) throws Exception {
        Path dir = Files.createTempDirectory("archive-fuzz");
        try {
            String suffix = input.length >= 2 && (input[0] & 0xFF) == 0x1F && (input[1] & 0xFF) == 0x8B ? ".tgz"
                    : input.length >= 4 && (input[0] & 0xFF) == 0x28 && (input[1] & 0xFF) == 0xB5
                    && (input[2] & 0xFF) == 0x2F && (input[3] & 0xFF) == 0xFD ? ".tar.zst" : ".tar";
            Path archive = Files.write(dir.resolve("ollama" + suffix), input);
            for (List<Object> args : List.<List<Object>>of(List.of("scan", archive),
                    List.of("apply", "--dry-run", archive, "-o", dir.resolve("out" + suffix)))) {
                Cli.Result r = Cli.run(args.toArray());
                // The prefix, not the words: a message may quote an entry name that holds any text.
                if (!DOCUMENTED.contains(r.exit()) || r.err().lines().anyMatch(l -> l.startsWith(INTERNAL))) {
                    throw new AssertionError(args.get(0) + ": " + r);
                }
                if (r.exit() == 4 && r.err().strip().lines().count() != 1) {
                    throw new AssertionError("not one line: " + r);
                }
            }
            try (Stream<Path> s = Files.list(dir)) {
                List<Path> left = s.filter(p -> !p.equals(archive)).toList();
                if (!left.isEmpty()) throw new AssertionError("written: " + left);
            }
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
