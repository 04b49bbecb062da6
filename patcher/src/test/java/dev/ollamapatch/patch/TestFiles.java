package dev.ollamapatch.patch;

import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/** File checks the tests share: what a directory holds, a file's hash, short paths for glob sites. */
public final class TestFiles {
    private TestFiles() {}

    /** Every path below {@code dir}, relative to it: compared before and after to prove nothing was written. */
    public static Set<String> listing(Path dir) throws Exception {
        try (Stream<Path> s = Files.walk(dir)) {
            Set<String> out = new TreeSet<>();
            s.forEach(p -> out.add(dir.relativize(p).toString()));
            return out;
        }
    }

    /** SHA-256 computed here, independently of the tool's own hashing. */
    public static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    /**
     * A new directory, or a symbolic link to {@code linkTo}, named {@code /tmp/opXXXX}: glob sites get
     * the shim's absolute path, which must fit the shortest glob of gen-a (26 bytes).
     */
    public static Path shortTempPath(Path linkTo) throws Exception {
        Random random = new Random();
        for (int i = 0; i < 100; i++) {
            Path p = Path.of(String.format("/tmp/op%04x", random.nextInt(0x10000)));
            try {
                return linkTo == null ? Files.createDirectory(p) : Files.createSymbolicLink(p, linkTo);
            } catch (FileAlreadyExistsException e) {
                // taken: try another
            }
        }
        throw new AssertionError("no free short name under /tmp");
    }
}
