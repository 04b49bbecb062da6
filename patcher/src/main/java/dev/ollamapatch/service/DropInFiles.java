package dev.ollamapatch.service;

import dev.ollamapatch.io.AtomicFiles;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Optional;

/** Reads, writes (through {@link AtomicFiles#install}) and removes the drop-in; never through a symbolic link. */
public final class DropInFiles {
    private DropInFiles() {}

    public static Optional<String> read(Path dropIn) throws IOException {
        if (Files.isSymbolicLink(dropIn)) throw new IOException(dropIn + ": is a symbolic link; refusing to follow it");
        if (!Files.exists(dropIn, LinkOption.NOFOLLOW_LINKS)) return Optional.empty();
        return Optional.of(Files.readString(dropIn, StandardCharsets.UTF_8));
    }

    public static void write(Path dropIn, String text) throws IOException {
        Files.createDirectories(dropIn.getParent());
        AtomicFiles.install(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)), dropIn, "rw-r--r--");
    }

    /** Deletes the drop-in, and its directory when nothing else is left in it. */
    public static void remove(Path dropIn) throws IOException {
        Files.delete(dropIn);
        try (var rest = Files.list(dropIn.getParent())) {
            if (rest.findAny().isEmpty()) Files.delete(dropIn.getParent());
        }
    }
}
