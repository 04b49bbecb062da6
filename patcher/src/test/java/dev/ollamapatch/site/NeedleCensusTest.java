package dev.ollamapatch.site;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.elf.ByteSource;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.ollama.PatchedState;
import dev.ollamapatch.patch.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The census (one pass over a file for every needle, with the digest fed from the same chunks) finds
 * exactly the needles a plain search of the whole file finds, wherever they lie (across chunk edges,
 * at the first and last byte), and the searches it gates (site finding, the already-patched search)
 * give the same answers with it attached as without.
 */
class NeedleCensusTest {
    private static final List<String> NEEDLES = List.of("libnvidia-ml", "/nvml.so", "$ORIGIN/nvml.so", "libcuda",
            "$ORIGIN/libcuda.so.1");

    /** Whether {@code needle} occurs anywhere in {@code data}: the obvious search. */
    private static boolean plainlyContains(byte[] data, String needle) {
        byte[] n = needle.getBytes(StandardCharsets.ISO_8859_1);
        outer:
        for (int i = 0; i + n.length <= data.length; i++) {
            for (int j = 0; j < n.length; j++) if (data[i + j] != n[j]) continue outer;
            return true;
        }
        return false;
    }

    /** Every start of {@code needle} in {@code data}, overlapping ones included: the obvious search. */
    private static List<Long> plainPositions(byte[] data, String needle) {
        byte[] n = needle.getBytes(StandardCharsets.ISO_8859_1);
        List<Long> at = new ArrayList<>();
        outer:
        for (int i = 0; i + n.length <= data.length; i++) {
            for (int j = 0; j < n.length; j++) if (data[i + j] != n[j]) continue outer;
            at.add((long) i);
        }
        return at;
    }

    private static List<Long> list(long[] a) {
        List<Long> l = new ArrayList<>();
        for (long v : a) l.add(v);
        return l;
    }

    private static void assertSameAsPlainSearch(byte[] data, String where) throws Exception {
        // Located: every place each needle starts, each once, in order.
        List<byte[]> all = NeedleCensus.needles(NEEDLES);
        NeedleCensus located = NeedleCensus.take(ByteSource.of(data), all, all, null);
        for (String n : NEEDLES) {
            long[] at = located.positions(n.getBytes(StandardCharsets.ISO_8859_1));
            assertEquals(plainPositions(data, n), at == null ? null : list(at), where + ": positions of " + n);
        }
        MessageDigest md = Sha256.digest();
        List<byte[]> needles = NeedleCensus.needles(NEEDLES);
        NeedleCensus c = NeedleCensus.take(ByteSource.of(data), needles, md);
        for (String n : NEEDLES) {
            assertEquals(!plainlyContains(data, n), c.absent(n.getBytes(StandardCharsets.ISO_8859_1)), where + ": " + n);
        }
        assertEquals(Sha256.of(data), Sha256.of(md), where + ": digest");
        // Without a digest the pass may stop early; the answers are the same.
        NeedleCensus fast = NeedleCensus.take(ByteSource.of(data), needles, null);
        for (String n : NEEDLES) {
            byte[] b = n.getBytes(StandardCharsets.ISO_8859_1);
            assertEquals(c.absent(b), fast.absent(b), where + " (no digest): " + n);
        }
    }

    @Test
    void findsEachNeedleAtEveryPlaceAroundAChunkEdgeAndAtTheEnds() throws Exception {
        Random r = new Random(21);
        int size = 2 * NeedleCensus.CHUNK + 100;
        byte[] base = new byte[size];
        r.nextBytes(base);
        // Random bytes hold none of them (checked, so that a planted one is the only one).
        for (String n : NEEDLES) assertFalse(plainlyContains(base, n), n);
        assertSameAsPlainSearch(base, "random bytes");
        for (String n : NEEDLES) {
            byte[] b = n.getBytes(StandardCharsets.ISO_8859_1);
            List<Integer> starts = new ArrayList<>(List.of(0, size - b.length));
            for (int edge : new int[] {NeedleCensus.CHUNK, 2 * NeedleCensus.CHUNK}) {
                for (int k = -b.length - 1; k <= 1; k++) starts.add(edge + k);
            }
            for (int s : starts) {
                byte[] data = base.clone();
                System.arraycopy(b, 0, data, s, b.length);
                assertSameAsPlainSearch(data, n + " at " + s);
            }
        }
    }

    @Test
    void aNeedleInTheBytesCarriedOverAChunkEdgeIsLocatedOnce() throws Exception {
        // "/nvml.so" is shorter than "$ORIGIN/libcuda.so.1": placed wholly in the last bytes of a chunk, it is
        // searched again with the next chunk (those bytes are carried in front of it) and must count once.
        byte[] data = new byte[2 * NeedleCensus.CHUNK];
        byte[] n = "/nvml.so".getBytes(StandardCharsets.ISO_8859_1);
        int at = NeedleCensus.CHUNK - n.length - 2;
        System.arraycopy(n, 0, data, at, n.length);
        List<byte[]> all = NeedleCensus.needles(NEEDLES);
        long[] found = NeedleCensus.take(ByteSource.of(data), all, all, null).positions(n);
        assertEquals(List.of((long) at), list(found));
    }

    @Test
    void aNeedleFoundMoreOftenThanCanBeKeptHasNoPositionsButIsFound() throws Exception {
        byte[] n = "libnvidia-ml".getBytes(StandardCharsets.ISO_8859_1);
        byte[] data = new byte[(NeedleCensus.MAX_POSITIONS + 1) * 16];
        for (int i = 0; i <= NeedleCensus.MAX_POSITIONS; i++) System.arraycopy(n, 0, data, i * 16, n.length);
        List<byte[]> needles = NeedleCensus.needles(List.of("libnvidia-ml"));
        NeedleCensus c = NeedleCensus.take(ByteSource.of(data), needles, needles, null);
        assertEquals(null, c.positions(n), "too many to keep: the site finder searches itself");
        assertFalse(c.absent(n));
        // One fewer is kept whole.
        byte[] fewer = java.util.Arrays.copyOf(data, NeedleCensus.MAX_POSITIONS * 16);
        assertEquals(NeedleCensus.MAX_POSITIONS, NeedleCensus.take(ByteSource.of(fewer), needles, needles, null).positions(n).length);
    }

    @Test
    void aNeedleCutShortAtTheEndOrByAChunkEdgeIsNotFound() throws Exception {
        byte[] b = "libnvidia-ml".getBytes(StandardCharsets.ISO_8859_1);
        byte[] data = new byte[NeedleCensus.CHUNK + 5];
        System.arraycopy(b, 0, data, data.length - b.length + 1, b.length - 1); // all but the last byte, at the end
        NeedleCensus c = NeedleCensus.take(ByteSource.of(data), NeedleCensus.needles(List.of("libnvidia-ml")), null);
        assertTrue(c.absent(b));
        assertFalse(c.noneFound() && !c.absent(b));
        // A needle the census was not asked about is never proved absent.
        assertFalse(c.absent("libcudart".getBytes(StandardCharsets.ISO_8859_1)));
    }

    @Test
    void fixturesCensusAgreesWithThePlainSearchAndTheGatedSearchesAnswerAsBefore() throws Exception {
        List<Path> files = new ArrayList<>();
        try (Stream<Path> s = Files.walk(Fixtures.root())) {
            s.filter(Files::isRegularFile).filter(p -> !p.toString().contains("/.tools/")).sorted().forEach(files::add);
        }
        assertTrue(files.size() > 40, "fixtures: " + files.size());
        List<LibraryTarget> withCuda = List.of(LibraryTarget.NVML, LibraryTarget.parse("libcuda.so.1"));
        int gated = 0;
        for (Path f : files) {
            byte[] data = Files.readAllBytes(f);
            assertSameAsPlainSearch(data, f.toString());
            boolean elf = data.length > 4 && data[0] == 0x7f && data[1] == 'E' && data[2] == 'L' && data[3] == 'F';
            if (!elf) continue;
            for (List<LibraryTarget> libs : List.of(List.of(LibraryTarget.NVML), withCuda)) {
                Set<String> shimPaths = new java.util.LinkedHashSet<>();
                List<String> needles = new ArrayList<>(List.of("/nvml.so"));
                for (LibraryTarget l : libs) {
                    shimPaths.add(l.defaultPath());
                    needles.add(l.stem());
                    needles.add(l.defaultPath());
                }
                try (ElfFile plain = ElfFile.open(f); ElfFile census = ElfFile.open(f)) {
                    // The stems located, as the read-ahead passes do: the site finder then starts from their positions.
                    List<String> stems = libs.stream().map(LibraryTarget::stem).toList();
                    NeedleCensus c = NeedleCensus.take(census.bytes(), NeedleCensus.needles(needles),
                            NeedleCensus.needles(stems), null);
                    NeedleCensus.attach(census, c);
                    if (c.noneFound()) gated++;
                    assertEquals(SiteFinder.scan(plain, libs).sites().toString(),
                            SiteFinder.scan(census, libs).sites().toString(), f + " " + libs);
                    assertEquals(PatchedState.fromBytes(plain, shimPaths), PatchedState.fromBytes(census, shimPaths),
                            f + " " + libs);
                }
            }
        }
        assertTrue(gated > 0, "no fixture names nothing: the gate was never tried");
    }
}
