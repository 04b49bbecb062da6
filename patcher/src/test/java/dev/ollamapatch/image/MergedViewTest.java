package dev.ollamapatch.image;

import dev.ollamapatch.archive.ArchiveFormat;
import dev.ollamapatch.report.PatchException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.ollamapatch.image.TestImages.Entry;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How layers stack (OCI image specification, "Applying changesets"), on small layers made in the test. */
class MergedViewTest {
    private Path spool;
    private MergedView view;

    @BeforeEach
    void setUp() throws IOException {
        spool = Files.createTempDirectory("merged-view");
        view = new MergedView(spool);
    }

    @AfterEach
    void tearDown() throws IOException {
        view.close();
        try (var s = Files.list(spool)) {
            assertEquals(List.of(), s.toList(), "spooled copies are deleted on close");
        }
        Files.delete(spool);
    }

    private void stack(int i, Entry... entries) throws IOException {
        TestImages.Layer l = TestImages.layer(TestImages.Compression.PLAIN, List.of(entries));
        view.apply(i, new ByteArrayInputStream(l.blob()), ArchiveFormat.TAR, "layer " + i);
    }

    @Test
    void aWhiteoutHidesTheLowerFileAndItsSubtree() throws IOException {
        stack(0, Entry.text("a/keep", "1"), Entry.text("a/gone", "2"), Entry.dir("a/dir/"), Entry.text("a/dir/x", "3"));
        stack(1, Entry.text("a/.wh.gone", ""), Entry.text("a/.wh.dir", ""));
        assertEquals(List.of("a/keep"), List.copyOf(view.all().keySet()));
    }

    @Test
    void anOpaqueDirectoryHidesOnlyWhatLowerLayersPutThere() throws IOException {
        stack(0, Entry.dir("opt/"), Entry.text("opt/old", "1"), Entry.text("etc/x", "2"));
        stack(1, Entry.dir("opt/"), Entry.text("opt/.wh..wh..opq", ""), Entry.text("opt/new", "3"));
        assertEquals(List.of("etc/x", "opt", "opt/new"), List.copyOf(view.all().keySet()));
    }

    @Test
    void aFileReplacesALowerDirectoryAndEverythingBelowIt() throws IOException {
        stack(0, Entry.dir("usr/lib/ollama/"), Entry.text("usr/lib/ollama/x", "1"));
        stack(1, Entry.symlink("usr/lib/ollama", "/opt/ollama"));
        assertEquals(List.of("usr/lib/ollama"), List.copyOf(view.all().keySet()));
    }

    @Test
    void aHardLinkSharesItsTargetsContentAcrossLayers() throws IOException {
        stack(0, Entry.text("bin/a", "1"));
        stack(1, Entry.hardLink("bin/b", "bin/a"));
        assertSame(view.get("bin/a").inode(), view.get("bin/b").inode());
        assertThrows(PatchException.class, () -> stack(2, Entry.hardLink("bin/c", "bin/missing")));
    }

    @Test
    void symbolicLinksResolveInsideTheImageOnly() throws IOException {
        stack(0, Entry.dir("usr/bin/"), Entry.text("usr/bin/ollama", "1"),
                Entry.symlink("usr/local", "../usr"), Entry.symlink("bin", "/usr/bin"),
                Entry.symlink("up", "../../../../usr/bin/ollama"), Entry.symlink("loop", "loop"));
        assertEquals("usr/bin/ollama", view.resolve("bin/ollama"));
        assertEquals("usr/bin/ollama", view.resolve("usr/local/bin/ollama"));
        assertEquals("usr/bin/ollama", view.resolve("up"), "'..' above the root stays at the root");
        assertNull(view.resolve("loop"));
        assertNull(view.resolve("usr/bin/missing"));
    }

    @Test
    void onlyElfFilesUnderAnOllamaPathAreSpooled() throws IOException {
        Path elf = Path.of("/bin/true");
        stack(0, Entry.file("usr/bin/ollama", elf, 0755, 0, 0), Entry.file("usr/bin/true", elf, 0755, 0, 0),
                Entry.text("usr/lib/ollama/README", "text"));
        assertNotNull(view.get("usr/bin/ollama").inode().spool);
        assertNull(view.get("usr/bin/true").inode().spool);
        assertNull(view.get("usr/lib/ollama/README").inode().spool);
        assertTrue(view.get("usr/lib/ollama/README").inode().peeked);
    }

    @Test
    void anInstallReachedThroughASymbolicLinkIsFoundAndItsLayerReadAgainForItsFiles() throws IOException {
        Path elf = Path.of("/bin/true");
        TestImages.Layer base = TestImages.layer(TestImages.Compression.PLAIN, List.of(
                Entry.file("opt/rt/bin/server", elf, 0755, 0, 0), Entry.file("opt/rt/lib/libx.so", elf, 0644, 0, 0),
                Entry.file("opt/rt/lib/other", elf, 0644, 0, 0)));
        view.apply(0, new ByteArrayInputStream(base.blob()), ArchiveFormat.TAR, "layer 0");
        stack(1, Entry.symlink("usr/bin/ollama", "/opt/rt/bin/server"), Entry.symlink("usr/lib/ollama", "../../opt/rt/lib"));
        var roots = OllamaFiles.find(view);
        assertEquals(List.of("opt/rt/bin/server", "opt/rt/lib/libx.so", "opt/rt/lib/other"), List.copyOf(roots.get("usr")));
        var unread = OllamaFiles.unread(view, roots);
        assertEquals(List.of(0), List.copyOf(unread.keySet()), "the files' content is in layer 0, not read in the pass");
        assertNull(view.get("opt/rt/bin/server").inode().spool);

        view.spoolAgain(new ByteArrayInputStream(base.blob()), unread.get(0), "layer 0");
        for (String key : roots.get("usr")) {
            MergedView.Inode inode = view.get(key).inode();
            assertNotNull(inode.spool, key);
            assertEquals(Files.size(elf), Files.size(inode.spool), key);
            assertEquals(dev.ollamapatch.io.Sha256.of(elf).hex(), dev.ollamapatch.io.Sha256.of(inode.spool).hex(), key);
        }
        assertTrue(OllamaFiles.unread(view, roots).isEmpty());
    }

    private static MergedView.Listing list(MergedView v, int i, Entry... entries) throws IOException {
        TestImages.Layer l = TestImages.layer(TestImages.Compression.PLAIN, List.of(entries));
        return v.list(i, new ByteArrayInputStream(l.blob()), ArchiveFormat.TAR, "layer " + i);
    }

    private static String describe(MergedView v) {
        StringBuilder b = new StringBuilder();
        v.all().forEach((k, n) -> b.append(k).append(' ').append(n.kind()).append(" from ").append(n.layer())
                .append(n.inode() == null ? "" : " content of layer " + n.inode().layer).append('\n'));
        return b.toString();
    }

    /** The same layers read top-down (as an apply reads them) and stacked bottom-up give the view bottom-up reading gives. */
    @Test
    void layersReadTopDownStackToTheSameViewAndHiddenFilesAreNotSpooled() throws IOException {
        Path elf = Path.of("/bin/true");
        Entry[][] layers = {
                {Entry.file("usr/lib/ollama/libold.so", elf, 0644, 0, 0), Entry.file("usr/lib/ollama/keep.so", elf, 0644, 0, 0),
                        Entry.file("usr/lib/ollama/replaced.so", elf, 0644, 0, 0), Entry.file("opt/ollama/bin/ollama", elf, 0755, 0, 0),
                        Entry.file("usr/lib/ollama/dir/x.so", elf, 0644, 0, 0), Entry.text("etc/a", "1")},
                {Entry.text("usr/lib/ollama/.wh.libold.so", ""), Entry.dir("opt/ollama/"), Entry.text("opt/ollama/.wh..wh..opq", ""),
                        Entry.symlink("usr/lib/ollama/dir", "keep.so"), Entry.hardLink("usr/lib/ollama/link.so", "usr/lib/ollama/keep.so")},
                {Entry.file("usr/lib/ollama/replaced.so", elf, 0644, 0, 0), Entry.text("etc/b", "2")}};
        for (int i = 0; i < layers.length; i++) stack(i, layers[i]);
        String bottomUp = describe(view);

        Path spoolTopDown = Files.createTempDirectory("merged-view-top-down");
        try (MergedView topDown = new MergedView(spoolTopDown)) {
            MergedView.Listing[] read = new MergedView.Listing[layers.length];
            for (int i = layers.length - 1; i >= 0; i--) {
                read[i] = list(topDown, i, layers[i]);
                assertFalse(read[i].hidesEverythingBelow());
                topDown.above(read[i]);
            }
            for (MergedView.Listing l : read) topDown.stack(l);
            assertEquals(bottomUp, describe(topDown));
            assertNotNull(topDown.get("usr/lib/ollama/keep.so").inode().spool);
            assertEquals(2, topDown.get("usr/lib/ollama/replaced.so").inode().layer);
            assertNotNull(topDown.get("usr/lib/ollama/replaced.so").inode().spool);
            // Bottom-up, every ELF file under an "ollama" path is spooled (6); top-down, the ones whited
            // out, below an opaque directory, replaced above, or under a name a symlink took over are not.
            try (var a = Files.list(spool); var b = Files.list(spoolTopDown)) {
                assertEquals(6, a.count());
                assertEquals(2, b.count(), "keep.so and the upper replaced.so only");
            }
        } finally {
            try (var s = Files.list(spoolTopDown)) {
                assertEquals(List.of(), s.toList());
            }
            Files.delete(spoolTopDown);
        }
    }

    @Test
    void anOpaqueRootHidesEveryLayerBelowUnlessAHardLinkReachesThere() throws IOException {
        MergedView.Listing opaque = list(view, 2, Entry.text(".wh..wh..opq", ""), Entry.text("usr/bin/ollama", "x"),
                Entry.hardLink("usr/bin/ollama2", "usr/bin/ollama"));
        assertTrue(opaque.hidesEverythingBelow());
        MergedView.Listing linksBelow = list(view, 2, Entry.text(".wh..wh..opq", ""),
                Entry.hardLink("usr/bin/ollama", "usr/bin/from-below"));
        assertFalse(linksBelow.hidesEverythingBelow(), "the link keeps a lower layer's file");
        assertFalse(list(view, 2, Entry.dir("usr/"), Entry.text("usr/.wh..wh..opq", "")).hidesEverythingBelow());
    }

    @Test
    void aNameClimbingOutOfTheRootIsInvalidInput() {
        PatchException e = assertThrows(PatchException.class, () -> stack(0, Entry.text("a/../../x", "1")));
        assertEquals(PatchException.Kind.INVALID_INPUT, e.kind());
        assertEquals("layer 0: entry a/../../x: path a/../../x escapes the image's root", e.getMessage());
    }
}
