package dev.ollamapatch.install;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.decide.ShimSource;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.report.PatchException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The in-place transaction on tiny trees of text files: the "patch" upper-cases a file, so that
 * each test reads what was swapped, kept, installed and put back without any ELF file involved.
 */
class InPlaceTransactionTest {
    @TempDir Path dir;
    @TempDir Path shims;

    private Path write(String rel, String text) throws IOException {
        Path p = dir.resolve(rel);
        Files.createDirectories(p.getParent());
        Files.writeString(p, text);
        return p;
    }

    private static String sha(byte[] b) {
        return Sha256.of(b).hex();
    }

    /** Upper-cases {@code source} into the temporary file, as a patched copy would be written. */
    private static InPlacePlan.CopyWriter upperCase(Path source) {
        return temp -> {
            byte[] in = Files.readAllBytes(source);
            byte[] out = new String(in, StandardCharsets.UTF_8).toUpperCase(Locale.ROOT).getBytes(StandardCharsets.UTF_8);
            Files.write(temp, out);
            return new InPlacePlan.Copied(sha(in), sha(out));
        };
    }

    private InPlacePlan.FileChange change(Path file, InPlacePlan.CopyWriter writer) throws IOException {
        return change(file, writer, Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS));
    }

    private InPlacePlan.FileChange change(Path file, InPlacePlan.CopyWriter writer, BasicFileAttributes before)
            throws IOException {
        String sha = Sha256.of(file).hex();
        return new InPlacePlan.FileChange(file, file, sha, sha, before, dir.relativize(file).toString(), List.of(),
                writer, sha, null, null, null);
    }

    private InPlacePlan.ShimChange shim(String rel, byte[] bytes, boolean existed) throws IOException {
        Path src = Files.write(Files.createTempFile(shims, "shim", ".so"), bytes);
        return new InPlacePlan.ShimChange(dir.resolve(rel), ShimSource.choose(src, null),
                new Manifest.ShimEntry(rel, sha(bytes), false), true, existed);
    }

    private InPlacePlan plan(Manifest previous, List<InPlacePlan.FileChange> files, List<InPlacePlan.ShimChange> shims) {
        return new InPlacePlan(dir.resolve(InstallLayout.MANIFEST_SUFFIX), previous, List.of(), files, shims,
                new InPlacePlan.ManifestContent("ollama-patch test", "$ORIGIN/nvml.so",
                        shims.stream().map(InPlacePlan.ShimChange::entry).toList(), null));
    }

    /** Every path under the tree, with its contents, to compare a tree before and after. */
    private TreeSet<String> snapshot() throws IOException {
        TreeSet<String> out = new TreeSet<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.toList()) {
                out.add(dir.relativize(p) + (Files.isRegularFile(p) ? "=" + Files.readString(p) : "/"));
            }
        }
        return out;
    }

    @Test
    void everyFileIsSwappedItsOriginalKeptAsAHardLinkAndTheManifestNamesBothHashes() throws IOException {
        Path prog = write("bin/prog", "prog calls libnvidia-ml.so.1");
        Path lib = write("lib/libx.so", "libx");
        Object progInode = Files.readAttributes(prog, BasicFileAttributes.class).fileKey();
        InPlacePlan plan = plan(null, List.of(change(prog, upperCase(prog)), change(lib, upperCase(lib))),
                List.of(shim("bin/nvml.so", "shim".getBytes(StandardCharsets.UTF_8), false)));

        InPlaceTransaction.Committed done = InPlaceTransaction.run(plan, dir, "2026-12-01T00:00:00Z");

        assertEquals(List.of(prog, lib), done.files());
        assertEquals("PROG CALLS LIBNVIDIA-ML.SO.1", Files.readString(prog));
        assertEquals("prog calls libnvidia-ml.so.1", Files.readString(InstallLayout.backupOf(prog)));
        assertEquals(progInode, Files.readAttributes(InstallLayout.backupOf(prog), BasicFileAttributes.class).fileKey(),
                "the backup is the original's inode, not a copy");
        assertEquals("shim", Files.readString(dir.resolve("bin/nvml.so")));
        assertEquals(List.of(), done.reinstalledShims(), "a new shim is not 'installed again'");
        Manifest m = Manifest.read(plan.manifestPath());
        assertEquals(2, m.files().size());
        assertEquals("bin/prog", m.files().get(0).path());
        assertEquals("bin/prog.orig", m.files().get(0).backup());
        assertEquals(sha("prog calls libnvidia-ml.so.1".getBytes(StandardCharsets.UTF_8)), m.files().get(0).originalSha256());
        assertEquals(Sha256.of(prog).hex(), m.files().get(0).patchedSha256());
        assertEquals(done.patched().get(0).patchedSha256(), m.files().get(0).patchedSha256());
        assertEquals("2026-12-01T00:00:00Z", m.created());
        assertFalse(Files.exists(InPlaceTransactionTest.exactTemp(prog)), "no temporary file is left");
    }

    private static Path exactTemp(Path p) {
        return dev.ollamapatch.io.AtomicFiles.exactTemp(p);
    }

    @Test
    void aFileChangedAfterPlanningPutsBackEveryFileAndRemovesWhatTheRunCreated() throws IOException {
        Path a = write("a", "first");
        Path b = write("sub/b", "second");
        TreeSet<String> before = snapshot();
        BasicFileAttributes stale = Files.readAttributes(b, BasicFileAttributes.class);
        // b is touched after it was planned: its swap must be refused, and a (already swapped) put back.
        Files.setLastModifiedTime(b, FileTime.fromMillis(stale.lastModifiedTime().toMillis() - 60_000));
        InPlacePlan plan = plan(null, List.of(change(a, upperCase(a)), change(b, upperCase(b), stale)),
                List.of(shim("nvml.so", new byte[] {1, 2, 3}, false)));

        PatchException e = assertThrows(PatchException.class, () -> InPlaceTransaction.run(plan, dir));

        assertEquals(PatchException.Kind.REFUSED, e.kind());
        assertEquals(b + " changed while it was being patched; everything was put back", e.getMessage());
        assertEquals(before, snapshot(), "the tree is as it was: files, no backup, no shim, no manifest, no temporary");
    }

    @Test
    void aRollbackWritesThePreviousManifestBackAndKeepsAShimThatWasThere() throws IOException {
        Path a = write("a", "first");
        Path b = write("b", "second");
        Path oldShim = write("nvml.so", "old shim");
        Manifest previous = new Manifest("ollama-patch 0.9", "2026-01-01T00:00:00Z", "$ORIGIN/nvml.so", List.of(),
                List.of(new Manifest.ShimEntry("nvml.so", Sha256.of(oldShim).hex(), false)));
        previous.write(dir.resolve(InstallLayout.MANIFEST_SUFFIX));
        String previousText = Files.readString(dir.resolve(InstallLayout.MANIFEST_SUFFIX));
        BasicFileAttributes stale = Files.readAttributes(b, BasicFileAttributes.class);
        Files.setLastModifiedTime(b, FileTime.fromMillis(stale.lastModifiedTime().toMillis() - 60_000));
        InPlacePlan plan = plan(previous, List.of(change(a, upperCase(a)), change(b, upperCase(b), stale)),
                List.of(shim("nvml.so", "new shim".getBytes(StandardCharsets.UTF_8), true)));

        assertThrows(PatchException.class, () -> InPlaceTransaction.run(plan, dir));

        assertEquals("first", Files.readString(a));
        assertFalse(Files.exists(InstallLayout.backupOf(a)));
        assertTrue(Files.exists(oldShim), "a shim that was there before the run is never removed");
        assertEquals(previousText, Files.readString(dir.resolve(InstallLayout.MANIFEST_SUFFIX)));
    }

    @Test
    void aRolledBackRetargetPutsBackTheFileAsItWasPatchedBeforeNotTheOriginal() throws IOException {
        // a was patched by an earlier run (a.orig is its original); re-targeting copies from a.orig.
        Path a = write("a", "patched before");
        Path aOrig = write("a.orig", "original of a");
        Path b = write("b", "second");
        TreeSet<String> before = snapshot();
        String origSha = Sha256.of(aOrig).hex();
        InPlacePlan.FileChange retarget = new InPlacePlan.FileChange(a, aOrig, origSha, origSha,
                Files.readAttributes(a, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS), "a", List.of(),
                upperCase(aOrig), Sha256.of(a).hex(), null, null, null);
        BasicFileAttributes stale = Files.readAttributes(b, BasicFileAttributes.class);
        Files.setLastModifiedTime(b, FileTime.fromMillis(stale.lastModifiedTime().toMillis() - 60_000));
        InPlacePlan plan = plan(null, List.of(retarget, change(b, upperCase(b), stale)), List.of());

        assertThrows(PatchException.class, () -> InPlaceTransaction.run(plan, dir));

        assertEquals("patched before", Files.readString(a), "the file as it was before this run, not its original");
        assertEquals(before, snapshot(), "the tree is as it was, with no file kept aside");
    }

    @Test
    void aRetargetThatCompletesKeepsNothingAside() throws IOException {
        Path a = write("a", "patched before");
        Path aOrig = write("a.orig", "original of a");
        String origSha = Sha256.of(aOrig).hex();
        InPlacePlan.FileChange retarget = new InPlacePlan.FileChange(a, aOrig, origSha, origSha,
                Files.readAttributes(a, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS), "a", List.of(),
                upperCase(aOrig), Sha256.of(a).hex(), null, null, null);

        InPlaceTransaction.run(plan(null, List.of(retarget), List.of()), dir);

        assertEquals("ORIGINAL OF A", Files.readString(a));
        assertEquals("original of a", Files.readString(aOrig));
        assertFalse(Files.exists(InPlaceTransaction.previousOf(a)));
    }

    @Test
    void aCopyThatReadsOtherBytesThanPlannedIsRefusedBeforeAnythingChanges() throws IOException {
        Path a = write("a", "first");
        Path b = write("b", "second");
        InPlacePlan.FileChange planned = change(b, upperCase(b));
        Files.writeString(b, "SECOND, replaced by someone else");
        TreeSet<String> before = snapshot();
        InPlacePlan plan = plan(null, List.of(change(a, upperCase(a)), planned), List.of());

        PatchException e = assertThrows(PatchException.class, () -> InPlaceTransaction.run(plan, dir));

        assertTrue(e.getMessage().startsWith(b + ": changed while it was being patched (SHA-256 "), e.getMessage());
        assertTrue(e.getMessage().endsWith("; nothing changed"), e.getMessage());
        assertEquals(before, snapshot(), "both temporary copies are gone and no manifest was written");
    }

    @Test
    void aFailedPutBackKeepsEveryBackupShimAndTheManifestAndSaysToRunRestore() throws IOException {
        Path a = write("a", "first");
        Path b = write("b", "second");
        Path backupOfA = InstallLayout.backupOf(a);
        // b's attributes as planned; reading their file key (just before b's swap, after a's) takes a's
        // backup away, so that putting a back cannot work.
        BasicFileAttributes real = Files.readAttributes(b, BasicFileAttributes.class);
        BasicFileAttributes sabotaged = new BasicFileAttributes() {
            public FileTime lastModifiedTime() { return real.lastModifiedTime(); }
            public FileTime lastAccessTime() { return real.lastAccessTime(); }
            public FileTime creationTime() { return real.creationTime(); }
            public boolean isRegularFile() { return true; }
            public boolean isDirectory() { return false; }
            public boolean isSymbolicLink() { return false; }
            public boolean isOther() { return false; }
            public long size() { return real.size(); }
            public Object fileKey() {
                try {
                    Files.move(backupOfA, dir.resolve("moved-away"));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                return "not the inode";
            }
        };
        InPlacePlan plan = plan(null, List.of(change(a, upperCase(a)), change(b, upperCase(b), sabotaged)),
                List.of(shim("nvml.so", "shim".getBytes(StandardCharsets.UTF_8), false)));

        PatchException e = assertThrows(PatchException.class, () -> InPlaceTransaction.run(plan, dir));

        assertEquals(PatchException.Kind.FAILED, e.kind());
        assertTrue(e.getMessage().contains("; putting back failed too (" + a + ": "), e.getMessage());
        assertTrue(e.getMessage().endsWith("run 'ollama-patch restore " + dir + "' to finish"), e.getMessage());
        assertEquals("FIRST", Files.readString(a), "a stays patched");
        assertTrue(Files.exists(dir.resolve("nvml.so")), "its shim stays");
        Manifest m = Manifest.read(dir.resolve(InstallLayout.MANIFEST_SUFFIX));
        assertEquals(List.of("a", "b"), m.files().stream().map(Manifest.FileEntry::path).toList(),
                "the manifest stays and records both files");
        assertFalse(Files.exists(exactTemp(b)), "b's patched copy is removed");
    }

    @Test
    void aShimAloneIsInstalledAgainAndSaidSo() throws IOException {
        Path have = write("nvml.so", "changed by someone");
        InPlacePlan plan = plan(null, List.of(), List.of(shim("nvml.so", "shim".getBytes(StandardCharsets.UTF_8), true)));

        InPlaceTransaction.Committed done = InPlaceTransaction.run(plan, dir);

        assertEquals(List.of(have), done.reinstalledShims());
        assertArrayEquals("shim".getBytes(StandardCharsets.UTF_8), Files.readAllBytes(have));
        assertEquals(List.of(), new ArrayList<>(done.files()));
        assertFalse(Files.exists(exactTemp(have)));
    }
}
