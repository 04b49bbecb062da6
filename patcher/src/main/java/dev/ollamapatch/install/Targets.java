package dev.ollamapatch.install;

import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.report.PatchException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Turns what the user named (a file or an install directory) into the ELF files to look at. */
public final class Targets {
    /** The suffix of the originals an in-place apply keeps beside each patched file. */
    public static final String BACKUP_SUFFIX = ".orig";
    /** The file name of the shim installed beside each patched file. */
    public static final String SHIM_FILE = "nvml.so";

    private Targets() {}

    /**
     * A target the user named must exist: missing is a usage error (exit 2); a symbolic link that
     * leads nowhere (dangling, or a loop), and anything that is neither a regular file nor a
     * directory (a FIFO would block the first read forever), are inputs that are not valid (exit 4).
     */
    public static void requireExists(Path target) {
        if (Files.exists(target)) {
            if (Files.isRegularFile(target) || Files.isDirectory(target)) return;
            throw new PatchException(PatchException.Kind.INVALID_INPUT, target
                    + ": not a regular file or directory (a FIFO, socket or device); nothing read");
        }
        if (Files.isSymbolicLink(target)) {
            throw new PatchException(PatchException.Kind.INVALID_INPUT, target
                    + ": a symbolic link that leads nowhere (dangling, or a loop)");
        }
        throw new PatchException(PatchException.Kind.USAGE, target + ": no such file or directory");
    }

    public static boolean isElf(Path file) {
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) return false;
        try (InputStream in = Files.newInputStream(file)) {
            byte[] magic = in.readNBytes(ElfConstants.SELFMAG);
            return ElfConstants.hasElfMagic(magic);
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * The ELF files of an install: {@code bin/ollama} and every ELF file under {@code lib/ollama}
     * when the directory is laid out like an Ollama install (or an install prefix such as
     * {@code /usr/local}); otherwise every ELF file below it. Symbolic links are not followed, so a
     * file reached twice is patched once. What this tool itself left there, the originals it keeps
     * ({@code *.orig}) and the shims it installs ({@code nvml.so}), are not the install's files.
     */
    public static List<Path> elfFilesOf(Path dir) throws IOException {
        List<Path> roots = new ArrayList<>();
        Path bin = dir.resolve("bin").resolve("ollama");
        Path lib = dir.resolve("lib").resolve("ollama");
        if (Files.exists(bin, LinkOption.NOFOLLOW_LINKS)) roots.add(bin);
        if (Files.isDirectory(lib, LinkOption.NOFOLLOW_LINKS)) roots.add(lib);
        if (roots.isEmpty()) roots.add(dir);
        List<Path> out = new ArrayList<>();
        for (Path root : roots) {
            try (Stream<Path> walk = Files.walk(root)) {
                walk.filter(Targets::isElf).filter(p -> !leftByTool(p)).sorted().forEach(out::add);
            }
        }
        return out;
    }

    private static boolean leftByTool(Path p) {
        String name = p.getFileName().toString();
        // Temporary files of a killed run are the tool's too: a partial one is no install file to refuse.
        return name.endsWith(BACKUP_SUFFIX) || name.equals(SHIM_FILE) || name.endsWith(AtomicFiles.TEMP_SUFFIX)
                || OldLeftovers.isBackupLink(p.getParent(), name);
    }
}
