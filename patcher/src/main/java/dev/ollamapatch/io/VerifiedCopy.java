package dev.ollamapatch.io;

import dev.ollamapatch.elf.ByteEdit;
import dev.ollamapatch.elf.EditedCopy;
import dev.ollamapatch.elf.ElfFile;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.List;

/** A verified patched copy of one ELF file, written beside its destination. */
public final class VerifiedCopy {
    private VerifiedCopy() {}


    /** A verified patched copy, not yet in place. */
    public record Written(Path temp, EditedCopy.CopyDigests digests) {}

    /**
     * Writes the patched copy to a new temporary file beside {@code destination}, with the mode of
     * {@code source} (and its owner and group where permitted), fsynced and verified. The caller
     * renames it into place with {@link AtomicFiles#commit} or deletes it.
     */
    public static Written writeVerified(ElfFile elf, Path source, List<ByteEdit> edits, Path destination) throws IOException {
        return writeVerifiedTo(elf, source, edits, AtomicFiles.createTemp(destination));
    }

    /** {@link #writeVerified} into {@code temp}, a new empty file the caller created beside the destination. */
    public static Written writeVerifiedTo(ElfFile elf, Path source, List<ByteEdit> edits, Path temp) throws IOException {
        boolean ok = false;
        try {
            // Two passes over the data, each hashing one side: the copy hashes the input it reads; the
            // verification reads the fsynced output back, compares every byte with input+edits, and
            // hashes what it read (the patched SHA-256 reported is that of the file as stored).
            byte[] inputSha;
            try (FileChannel out = FileChannel.open(temp, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                inputSha = EditedCopy.writeHashingInput(elf.bytes(), edits, out);
                out.force(true);
            }
            copyAttributes(source, temp);
            byte[] outputSha = OutputVerifier.verify(elf, temp, edits);
            ok = true;
            return new Written(temp, new EditedCopy.CopyDigests(inputSha, outputSha, elf.bytes().size()));
        } catch (java.nio.file.FileSystemException e) {
            throw e;
        } catch (IOException e) {
            // A write error (ENOSPC, EIO) names no file by itself: say which one was being written.
            throw new java.nio.file.FileSystemException(temp.getParent().toString(), null,
                    (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName())
                            + " (while writing the patched copy " + temp.getFileName() + ")");
        } finally {
            if (!ok) Files.deleteIfExists(temp);
        }
    }

    /**
     * Mode, owner, group and extended attributes (file capabilities, SELinux labels, user.*) of the
     * source onto the new file. Called after the data is written: the kernel drops
     * {@code security.capability} on every write. coreutils' {@code cp --attributes-only} copies
     * every namespace the caller may set and leaves the destination's contents alone; where it is
     * missing or fails, the mode, owner and group are still copied.
     */
    static void copyAttributes(Path source, Path target) throws IOException {
        PosixFileAttributes attrs = Files.readAttributes(source, PosixFileAttributes.class);
        PosixFileAttributeView view = Files.getFileAttributeView(target, PosixFileAttributeView.class,
                LinkOption.NOFOLLOW_LINKS);
        try {
            view.setGroup(attrs.group());
            view.setOwner(attrs.owner());
        } catch (IOException e) {
            // Not root: the new file is ours, as any copy would be.
        }
        try {
            Process cp = new ProcessBuilder("cp", "--attributes-only", "--preserve=xattr", "--",
                    source.toString(), target.toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!cp.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) cp.destroyForcibly();
        } catch (IOException e) {
            // No cp: extended attributes cannot be copied; mode, owner and group are.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // Last: a change of owner clears set-user-ID and set-group-ID bits. The whole mode (chmod(2)
        // with all 12 bits): PosixFilePermission has only the 9 rwx bits and would drop them.
        int mode = (Integer) Files.getAttribute(source, "unix:mode") & 07777;
        Files.setAttribute(target, "unix:mode", mode, LinkOption.NOFOLLOW_LINKS);
        AtomicFiles.fsync(target);
    }

}
