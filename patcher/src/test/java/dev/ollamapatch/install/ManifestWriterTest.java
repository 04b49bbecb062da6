package dev.ollamapatch.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.report.Json;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * The manifest written without the object mapper is, byte for byte, what the mapper writes for it:
 * every field present and absent, nulls where the records allow them, empty lists, strings that need
 * escaping, extreme numbers; and the streaming reader reads it back to the same manifest.
 */
class ManifestWriterTest {
    private static final String[] STRINGS = {null, "", "lib/ollama/libggml-base.so", "$ORIGIN/nvml.so",
            "quote \" backslash \\ slash / tab \t nl \n nul \u0000 bell \u0007", "é ü ß 日本 \uD83D\uDE00", "\u007f\u0080\u00ff"};
    private static final long[] NUMBERS = {0, 1, -1, 17, Long.MAX_VALUE, Long.MIN_VALUE, 1796186261653454881L};

    private static String str(Random r) { return STRINGS[r.nextInt(STRINGS.length)]; }

    private static long num(Random r) { return NUMBERS[r.nextInt(NUMBERS.length)]; }

    private static <T> List<T> list(Random r, java.util.function.Supplier<T> item) {
        int k = r.nextInt(5);
        if (k == 0) return null;
        List<T> out = new ArrayList<>();
        for (int i = 0; i < k - 1; i++) out.add(r.nextInt(8) == 0 ? null : item.get());
        return out;
    }

    private static Manifest.StatRecord stat(Random r) {
        return r.nextBoolean() ? null : new Manifest.StatRecord(num(r), num(r), num(r), num(r), num(r));
    }

    private static Manifest manifest(Random r) {
        List<Manifest.FileEntry> files = list(r, () -> new Manifest.FileEntry(str(r), str(r), str(r), str(r),
                list(r, () -> new Manifest.SiteEntry(num(r), (int) num(r), str(r), str(r), str(r), str(r),
                        list(r, () -> STRINGS[2 + r.nextInt(STRINGS.length - 2)]))), stat(r)));
        List<Manifest.ShimEntry> shims = list(r, () -> new Manifest.ShimEntry(str(r), str(r), r.nextBoolean(),
                r.nextBoolean() ? null : list(r, () -> STRINGS[2 + r.nextInt(STRINGS.length - 2)])));
        List<Manifest.LibraryEntry> libs = list(r, () -> new Manifest.LibraryEntry(str(r), str(r), str(r)));
        List<Manifest.CleanEntry> clean = list(r, () -> new Manifest.CleanEntry(str(r), stat(r)));
        Integer format = r.nextBoolean() ? Integer.valueOf(Manifest.FORMAT) : r.nextBoolean() ? null : Integer.valueOf(1);
        return new Manifest(format, str(r), str(r), str(r), files, shims, str(r), libs, clean);
    }

    @Test
    void writesWhatTheObjectMapperWrites() throws Exception {
        Random r = new Random(21);
        int withEverything = 0;
        for (int i = 0; i < 2000; i++) {
            Manifest m = manifest(r);
            byte[] mapper = Json.MAPPER.writeValueAsBytes(m);
            byte[] ours = ManifestWriter.toJson(m);
            if (!Arrays.equals(mapper, ours)) {
                assertEquals(new String(mapper, StandardCharsets.UTF_8), new String(ours, StandardCharsets.UTF_8), "manifest " + i);
            }
            if (m.files() != null && m.shims() != null && m.libraries() != null && m.cleanFiles() != null) withEverything++;
        }
        assertTrue(withEverything > 50, "few manifests had every list: " + withEverything);
    }

    @Test
    void aManifestAsAnApplyWritesItReadsBackTheSame() throws Exception {
        Manifest m = new Manifest(Manifest.FORMAT, "ollama-patch 0.1.0", "2026-12-02T04:37:41Z", "$ORIGIN/nvml.so",
                List.of(new Manifest.FileEntry("lib/ollama/libggml-base.so", "5d".repeat(32), "5d".repeat(32),
                        "lib/ollama/libggml-base.so.orig", List.of(new Manifest.SiteEntry(8245, 17, "c-string",
                        "libnvidia-ml.so.1", "//$ORIGIN/nvml.so", "call", List.of("lib/ollama/nvml.so"))),
                        new Manifest.StatRecord(65024, 10404833, 14408, 1796186261653454881L, 1796186261849454876L))),
                List.of(new Manifest.ShimEntry("lib/ollama/nvml.so", "8d".repeat(32), false, List.of("lib/ollama"))),
                "$ORIGIN/nvml.so", List.of(new Manifest.LibraryEntry("libcuda.so.1", "$ORIGIN/cuda", null)),
                List.of(new Manifest.CleanEntry("lib/ollama/cuda_v12/libcublas.so.12", null)));
        byte[] ours = ManifestWriter.toJson(m);
        assertEquals(new String(Json.MAPPER.writeValueAsBytes(m), StandardCharsets.UTF_8), new String(ours, StandardCharsets.UTF_8));
        assertEquals(m, ManifestStream.read(ours));
    }
}
