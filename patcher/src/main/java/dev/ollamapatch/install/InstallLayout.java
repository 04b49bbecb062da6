package dev.ollamapatch.install;

import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.install.Targets;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Where things live for an in-place target: the files to patch, the manifest, the lock, the
 * backups. A file target {@code X} keeps {@code X.ollama-patch.json}; a directory target keeps
 * {@code DIR/.ollama-patch.json}. Backups are {@code <file>.orig} beside each file.
 */
public record InstallLayout(Path target, boolean directory, List<Path> files, Path manifest, Path lock) {

    public static final String BACKUP_SUFFIX = Targets.BACKUP_SUFFIX;

    /** A symlinked file target patches the file it points to; the link stays as it is. */
    public static InstallLayout of(Path target) throws IOException {
        if (!Files.exists(target)) {
            throw new PatchException(PatchException.Kind.USAGE, target + ": no such file or directory");
        }
        Path real = target.toRealPath();
        if (Files.isDirectory(real)) {
            return new InstallLayout(real, true, Targets.elfFilesOf(real), real.resolve(".ollama-patch.json"),
                    real.resolve(".ollama-patch.lock"));
        }
        Path dir = real.getParent();
        String name = real.getFileName().toString();
        return new InstallLayout(real, false, List.of(real), dir.resolve(name + ".ollama-patch.json"),
                dir.resolve("." + name + ".ollama-patch.lock"));
    }

    public static Path backupOf(Path file) {
        return file.resolveSibling(file.getFileName() + BACKUP_SUFFIX);
    }
}
