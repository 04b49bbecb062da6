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
    public static final String MANIFEST_SUFFIX = ".ollama-patch.json";
    public static final String LOCK_SUFFIX = ".ollama-patch.lock";

    /** A symlinked file target patches the file it points to; the link stays as it is. */
    public static InstallLayout of(Path target) throws IOException {
        Targets.requireExists(target);
        Path real = target.toRealPath();
        if (Files.isDirectory(real)) {
            return new InstallLayout(real, true, Targets.elfFilesOf(real), real.resolve(MANIFEST_SUFFIX),
                    real.resolve(LOCK_SUFFIX));
        }
        Path dir = real.getParent();
        String name = real.getFileName().toString();
        return new InstallLayout(real, false, List.of(real), dir.resolve(name + MANIFEST_SUFFIX),
                dir.resolve("." + name + LOCK_SUFFIX));
    }

    /** The directory every manifest path is relative to: the target directory, or a file target's directory. */
    public Path base() {
        return directory ? target : target.getParent();
    }

    public static Path backupOf(Path file) {
        return file.resolveSibling(file.getFileName() + BACKUP_SUFFIX);
    }
}
