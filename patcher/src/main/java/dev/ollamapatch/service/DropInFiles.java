package dev.ollamapatch.service;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/** Reads, writes (temp file, fsync, rename) and removes the drop-in; never through a symbolic link. */
public final class DropInFiles {
    private DropInFiles() {}

    public static Optional<String> read(Path dropIn) throws IOException {
        if (Files.isSymbolicLink(dropIn)) throw new IOException(dropIn + ": is a symbolic link; refusing to follow it");
        if (!Files.exists(dropIn, LinkOption.NOFOLLOW_LINKS)) return Optional.empty();
        return Optional.of(Files.readString(dropIn, StandardCharsets.UTF_8));
    }

    public static void write(Path dropIn, String text) throws IOException {
        Path dir = dropIn.getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + dropIn.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong())
                + ".ollama-patch.tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
                ch.force(true);
            }
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            Files.move(tmp, dropIn, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Deletes the drop-in, and its directory when nothing else is left in it. */
    public static void remove(Path dropIn) throws IOException {
        Files.delete(dropIn);
        try (var rest = Files.list(dropIn.getParent())) {
            if (rest.findAny().isEmpty()) Files.delete(dropIn.getParent());
        }
    }
}
