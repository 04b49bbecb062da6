package dev.ollamapatch.install;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.elf.ElfNames;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.resolve.ResolutionCheck;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code verify TARGET}: recomputes every hash the manifest records (patched files, backups, shims)
 * and checks that each patched file still parses and still holds its replacements.
 */
public final class InstallVerifier {
    private InstallVerifier() {}

    /**
     * Every difference found, one line each; empty when everything holds. The manifest's paths are
     * checked first ({@link ManifestPaths}): one naming anything outside the target is refused.
     */
    public static List<String> verify(InstallLayout layout) throws IOException {
        if (!Manifest.exists(layout.manifest())) {
            return List.of(layout.target() + ": no manifest at " + layout.manifest() + " (not patched in place by this tool)");
        }
        ManifestPaths.Resolved r = ManifestPaths.resolve(layout, Manifest.read(layout.manifest()));
        List<String> problems = new ArrayList<>();
        for (ManifestPaths.File f : r.files()) {
            Path file = f.path();
            String sha = hash(file, problems);
            if (sha != null && !sha.equals(f.entry().patchedSha256())) {
                problems.add(file + ": SHA-256 is " + sha + ", the manifest records " + f.entry().patchedSha256()
                        + (sha.equals(f.entry().originalSha256()) ? " (it is the original: not patched)" : ""));
            }
            if (sha != null) checkSites(file, f.entry(), problems);
            String backupSha = hash(f.backup(), problems);
            if (backupSha != null && !backupSha.equals(f.entry().originalSha256())) {
                problems.add(f.backup() + ": SHA-256 is " + backupSha + ", the manifest records " + f.entry().originalSha256());
            }
        }
        problems.addAll(resolutionProblems(layout, r));
        for (ManifestPaths.Shim s : r.shims()) {
            String sha = hash(s.path(), problems);
            if (sha != null && !sha.equals(s.entry().sha256())) {
                problems.add(s.path() + ": SHA-256 is " + sha + ", the manifest records " + s.entry().sha256());
            }
            if (sha != null) checkMachine(s.path(), r, problems);
        }
        return problems;
    }

    /**
     * The resolutions again, on the installed files (issue 14): see {@link ResolutionCheck}. The
     * manifest's {@code resolves_to} paths are relative to the target (absolute only for a shim
     * outside it); they are resolved against the target here, as every other path it records.
     */
    private static List<String> resolutionProblems(InstallLayout layout, ManifestPaths.Resolved r) {
        Path base = layout.base();
        java.util.Map<Path, List<ResolutionCheck.WrittenSite>> sites = new java.util.LinkedHashMap<>();
        for (ManifestPaths.File f : r.files()) {
            sites.put(f.path().toAbsolutePath().normalize(), f.entry().sites().stream().map(s -> new ResolutionCheck.WrittenSite(
                    s.offset(), s.length(), "dynstr".equals(s.kind()), s.replacement(),
                    s.resolvesTo() == null ? null : s.resolvesTo().stream()
                            .map(t -> base.resolve(t).toAbsolutePath().normalize().toString()).toList())).toList());
        }
        java.util.Map<String, String> shas = new java.util.HashMap<>();
        for (ManifestPaths.Shim s : r.shims()) shas.put(s.path().toAbsolutePath().normalize().toString(), s.entry().sha256());
        return ResolutionCheck.problems(layout.files(), sites, shas);
    }

    /** A shim beside patched files must be of their machine: the loader cannot load another one. */
    private static void checkMachine(Path shim, ManifestPaths.Resolved r, List<String> problems) {
        int shimMachine;
        try (ElfFile s = ElfFile.open(shim)) {
            shimMachine = s.header().machine();
        } catch (ElfFormatException | IOException e) {
            problems.add(shim + ": not an ELF shared library: " + e.getMessage());
            return;
        }
        for (ManifestPaths.File f : r.files()) {
            if (!f.path().getParent().equals(shim.getParent()) || !Files.isRegularFile(f.path(), LinkOption.NOFOLLOW_LINKS)) continue;
            try (ElfFile e = ElfFile.open(f.path())) {
                if (e.header().machine() != shimMachine) {
                    problems.add(shim + ": a shim for " + ElfNames.machine(shimMachine) + ", but " + f.path() + " is "
                            + ElfNames.machine(e.header().machine()) + " and cannot load it");
                }
            } catch (ElfFormatException | IOException e) {
                // reported with the file's own checks
            }
        }
    }

    private static void checkSites(Path file, Manifest.FileEntry f, List<String> problems) {
        try (ElfFile elf = ElfFile.open(file)) {
            for (Manifest.SiteEntry s : f.sites()) {
                byte[] want = s.replacement().getBytes(StandardCharsets.ISO_8859_1);
                byte[] got = new byte[want.length];
                if (s.offset() < 0 || s.offset() > elf.bytes().size() - want.length) {
                    problems.add(String.format("%s: site at offset 0x%x is past the end of the file", file, s.offset()));
                    continue;
                }
                elf.bytes().read(s.offset(), got, 0, got.length);
                if (!java.util.Arrays.equals(want, got)) {
                    problems.add(String.format("%s: site at file offset 0x%x no longer holds \"%s\"", file, s.offset(),
                            s.replacement()));
                }
            }
        } catch (ElfFormatException e) {
            problems.add(file + ": no longer parses as ELF: " + e.getMessage());
        } catch (IOException e) {
            problems.add(file + ": cannot read: " + e.getMessage());
        }
    }

    private static String hash(Path file, List<String> problems) {
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            problems.add(file + ": missing (or not a regular file)");
            return null;
        }
        try {
            return Sha256.of(file).hex();
        } catch (IOException e) {
            problems.add(file + ": cannot read: " + e.getMessage());
            return null;
        }
    }
}
