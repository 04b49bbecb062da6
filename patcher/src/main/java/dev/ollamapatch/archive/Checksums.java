package dev.ollamapatch.archive;

import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Refusal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code --checksums FILE} and {@code --expect-sha256}: the input is the one that was published, before anything else. */
public final class Checksums {
    /** {@code sha256sum} output: hex, a space, a space or '*' (binary mode), the name. */
    private static final Pattern LINE = Pattern.compile("^\\\\?([0-9a-fA-F]{64}) [ *](.+)$");

    private Checksums() {}

    /** The expected hex digest for {@code fileName} in a sha256sum-format text: the line whose name's basename matches. */
    static Optional<String> expected(List<String> lines, String fileName) {
        for (String line : lines) {
            Matcher m = LINE.matcher(line.stripTrailing());
            if (!m.matches()) continue;
            String name = m.group(2);
            String base = name.substring(name.lastIndexOf('/') + 1);
            if (base.equals(fileName)) return Optional.of(m.group(1).toLowerCase(Locale.ROOT));
        }
        return Optional.empty();
    }

    /** A refusal (exit 5) unless {@code file} matches its line in {@code checksumsFile}. */
    public static Optional<Refusal> verify(Path checksumsFile, Path file) throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(checksumsFile, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new PatchException(PatchException.Kind.USAGE, "--checksums " + checksumsFile + ": no such file");
        }
        String name = file.getFileName().toString();
        Optional<String> want = expected(lines, name);
        if (want.isEmpty()) {
            return Optional.of(Refusal.refused(checksumsFile + " has no SHA-256 line for " + name + "; nothing written"));
        }
        Sha256 got = sha256(file);
        if (!got.matches(want.get())) {
            return Optional.of(Refusal.refused(String.format(
                    "%s: SHA-256 is %s, %s says %s; nothing written", file, got, checksumsFile, want.get())));
        }
        return Optional.empty();
    }

    /** A refusal (exit 5) unless {@code file} has the SHA-256 {@code hex}. */
    public static Optional<Refusal> expect(String hex, Path file) throws IOException {
        Sha256 got = sha256(file);
        if (!got.matches(hex)) {
            return Optional.of(Refusal.refused(String.format(
                    "%s: SHA-256 is %s, expected %s; nothing written", file, got, hex.toLowerCase(Locale.ROOT))));
        }
        return Optional.empty();
    }

    /** Streamed: a release archive is not read into memory. */
    static Sha256 sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return Sha256.of(in);
        }
    }
}
