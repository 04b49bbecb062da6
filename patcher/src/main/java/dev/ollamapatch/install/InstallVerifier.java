package dev.ollamapatch.install;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.io.Digests;

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

    /** Every difference found, one line each; empty when everything holds. */
    public static List<String> verify(InstallLayout layout) throws IOException {
        if (!Manifest.exists(layout.manifest())) {
            return List.of(layout.target() + ": no manifest at " + layout.manifest() + " (not patched in place by this tool)");
        }
        Manifest m = Manifest.read(layout.manifest());
        List<String> problems = new ArrayList<>();
        for (Manifest.FileEntry f : m.files()) {
            Path file = Path.of(f.path());
            String sha = hash(file, problems);
            if (sha != null && !sha.equals(f.patchedSha256())) {
                problems.add(file + ": SHA-256 is " + sha + ", the manifest records " + f.patchedSha256()
                        + (sha.equals(f.originalSha256()) ? " (it is the original: not patched)" : ""));
            }
            if (sha != null) checkSites(file, f, problems);
            String backupSha = hash(Path.of(f.backup()), problems);
            if (backupSha != null && !backupSha.equals(f.originalSha256())) {
                problems.add(f.backup() + ": SHA-256 is " + backupSha + ", the manifest records " + f.originalSha256());
            }
        }
        if (m.shims() != null) {
            for (Manifest.ShimEntry s : m.shims()) {
                String sha = hash(Path.of(s.path()), problems);
                if (sha != null && !sha.equals(s.sha256())) {
                    problems.add(s.path() + ": SHA-256 is " + sha + ", the manifest records " + s.sha256());
                }
            }
        }
        return problems;
    }

    private static void checkSites(Path file, Manifest.FileEntry f, List<String> problems) {
        try (ElfFile elf = ElfFile.open(file)) {
            for (Manifest.SiteEntry s : f.sites()) {
                byte[] want = s.replacement().getBytes(StandardCharsets.ISO_8859_1);
                byte[] got = new byte[want.length];
                if (s.offset() + want.length > elf.bytes().size()) {
                    problems.add(String.format("%s: site at offset 0x%x is past the end of the file", file, s.offset()));
                    continue;
                }
                elf.bytes().read(s.offset(), got, 0, got.length);
                if (!java.util.Arrays.equals(want, got)) {
                    problems.add(String.format("%s: site at offset 0x%x no longer holds \"%s\"", file, s.offset(),
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
            return Digests.sha256(file);
        } catch (IOException e) {
            problems.add(file + ": cannot read: " + e.getMessage());
            return null;
        }
    }
}
