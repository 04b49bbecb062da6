package dev.ollamapatch.install;

import dev.ollamapatch.decide.ShimSource;
import dev.ollamapatch.elf.ByteSource;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.report.ApplyOutcome;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The systemd case ({@code ExecStartPre=... apply --quiet TARGET} before every start of Ollama): an
 * install the last apply left as it is, proved from its manifest without finding a single site, so
 * that the check costs hashing the patched files and their shims rather than a scan.
 *
 * <p>The proof, every part of it read now: the manifest asks for what this apply asks for (shim path,
 * {@code --lib}); every ELF file of the target is one the manifest records, either as patched (a
 * regular file whose status record still holds, see {@link FileStatus}, or else whose SHA-256 is the
 * patched one it records) or as clean (a file that named nothing to patch when the apply finished,
 * whose status record still holds); every shim those files load that the manifest records is a
 * regular file whose SHA-256 is that of the shim this apply would install for the file's machine, and
 * no other manifest records another shim at that place; no leftover of a killed run is there. Then the
 * full apply would find every file already patched or clean and nothing to install, and write nothing:
 * the same ending, without its reports. Anything else (a new or changed file, a missing or changed
 * shim, another request) gives null and the full apply decides.
 */
final class AlreadyApplied {
    private AlreadyApplied() {}

    /** Whether the caller can take this ending: nothing to write, no report asked for. */
    static boolean applies(InPlaceApply.Options o) {
        return !o.reportsWanted() && !o.dryRun() && !o.force() && o.expectSha256() == null;
    }

    /** The ending of an apply that finds everything already patched, or null when that is not proved. */
    static ApplyOutcome prove(InstallLayout layout, InPlaceApply.Options options, ManifestPaths.Resolved recorded)
            throws IOException {
        if (recorded == null || layout.files().isEmpty()) return null;
        Manifest manifest = recorded.manifest();
        if (InPlacePlanner.retargeting(manifest, options.libraries()) != null) return null;
        Set<Path> listed = new HashSet<>(layout.files());
        long manifestNanos = FileStatus.modifiedNanos(layout.manifest());
        // Every ELF file of the target is one the manifest records as patched, or as clean (it named nothing
        // when the apply finished) with its status unchanged since: only a scan could tell more of a new one.
        Set<Path> accounted = new HashSet<>();
        for (ManifestPaths.File f : recorded.files()) accounted.add(f.path());
        if (manifest.cleanFiles() != null && accounted.size() < listed.size()) {
            Path base = layout.manifest().getParent();
            for (Manifest.CleanEntry c : manifest.cleanFiles()) {
                if (c == null || c.path() == null || c.path().isEmpty() || Path.of(c.path()).isAbsolute()) continue;
                Path p = base.resolve(c.path()).normalize();
                if (!p.startsWith(base) || !listed.contains(p) || accounted.contains(p)) continue;
                if (FileStatus.unchanged(p, c.stat(), manifestNanos)) accounted.add(p);
            }
        }
        if (!accounted.containsAll(listed)) return null;
        String nvmlPath = options.libraries().get(0).defaultPath();
        List<String> messages = new ArrayList<>();
        Set<Path> shimsAt = new LinkedHashSet<>();
        // The shims' bytes are compared, not hashed: in a JVM that just started, SHA-256 runs interpreted.
        Map<Path, byte[]> shimWanted = new HashMap<>();
        Map<String, byte[]> shimBytesByMachine = new HashMap<>();
        for (ManifestPaths.File f : recorded.files()) {
            Path file = f.path();
            if (!listed.contains(file) || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) return null;
            // Unchanged since the apply wrote it (its status record holds), or hashed as before.
            if (!FileStatus.unchanged(file, f.entry().stat(), manifestNanos)
                    && !Sha256.of(file).hex().equals(f.entry().patchedSha256())) return null;
            // The shim this apply would install for the file: by its machine, read from the ELF header only.
            byte[] wanted;
            try (ElfFile elf = ElfFile.open(file)) {
                String key = options.shim() != null ? "--shim" : String.valueOf(elf.header().machine());
                wanted = shimBytesByMachine.get(key);
                if (wanted == null) {
                    wanted = ShimSource.choose(options.shim(), elf).bytes();
                    shimBytesByMachine.put(key, wanted);
                }
            } catch (ElfFormatException e) {
                return null;
            }
            Set<Path> own = new LinkedHashSet<>();
            own.add(ShimInstall.installTarget(file, nvmlPath));
            for (Manifest.SiteEntry site : f.entry().sites()) {
                if (site.resolvesTo() == null) continue;
                for (String t : site.resolvesTo()) own.add(layout.base().resolve(t).toAbsolutePath().normalize());
            }
            for (Path s : own) {
                if (recorded.shim(s) == null) continue;
                byte[] before = shimWanted.putIfAbsent(s, wanted);
                if (before != null && !Arrays.equals(before, wanted)) return null;
                shimsAt.add(s);
            }
            messages.add(file + ": already patched by " + manifest.tool() + " to "
                    + String.join(", ", InPlacePlanner.writtenPaths(f.entry())) + "; nothing to do");
        }
        for (Path s : shimsAt) {
            if (!Files.isRegularFile(s, LinkOption.NOFOLLOW_LINKS)) return null;
            byte[] wanted = shimWanted.get(s);
            if (Files.size(s) != wanted.length || !Arrays.equals(Files.readAllBytes(s), wanted)) return null;
            String wantedSha = null;
            for (Manifest.ShimEntry other : ShimRefs.others(s, layout.manifest()).values()) {
                if (wantedSha == null) wantedSha = Sha256.of(ByteSource.of(wanted)).hex();
                if (!other.sha256().equals(wantedSha)) return null;
            }
        }
        if (Leftovers.anyExist(Leftovers.of(layout, recorded, shimsAt))) return null;
        return ApplyOutcome.done(messages, List.of());
    }
}
