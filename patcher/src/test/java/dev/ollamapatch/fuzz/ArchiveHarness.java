package dev.ollamapatch.fuzz;

import dev.ollamapatch.elf.ByteSource;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.patch.FilePatcher;
import dev.ollamapatch.patch.PatchException;
import dev.ollamapatch.patch.Plan;
import dev.ollamapatch.patch.PlanOptions;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorInputStream;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Stand-in for the archive reader ({@code dev.ollamapatch.archive}, being written on another
 * branch): the same input path, tar, {@code .tgz}/{@code .tar.gz} or {@code .tar.zst} through
 * commons-compress, then {@link ElfFile#parse} and planning of every ELF entry. It states the
 * contract the real reader must keep, and the archive fuzz target exercises it until the real
 * reader can be fuzzed in its place:
 *
 * <ul>
 *   <li>a corrupt archive, whatever the library underneath throws (IOException, but also
 *       IllegalArgumentException, ArithmeticException and friends from commons-compress), is a
 *       {@link PatchException} of kind INVALID_INPUT with a one-line message (exit 4);</li>
 *   <li>a corrupt ELF entry is an INVALID_INPUT naming the entry;</li>
 *   <li>decompression is bounded ({@code maxTotal} bytes in all), so a small bomb cannot exhaust
 *       memory or time.</li>
 * </ul>
 */
public final class ArchiveHarness {
    public record Entry(String name, long size, boolean elf, int sites) {}

    private ArchiveHarness() {}

    public static List<Entry> read(String archiveName, byte[] archive, long maxTotal) {
        List<Entry> out = new ArrayList<>();
        List<Object[]> files = new ArrayList<>();
        try (InputStream raw = decompressor(new ByteArrayInputStream(archive));
             TarArchiveInputStream tar = new TarArchiveInputStream(raw)) {
            long total = 0;
            TarArchiveEntry e;
            while ((e = tar.getNextEntry()) != null) {
                if (!e.isFile()) {
                    out.add(new Entry(e.getName(), 0, false, 0));
                    continue;
                }
                if (e.getSize() < 0 || e.getSize() > maxTotal - total) {
                    throw invalid(archiveName, "entry " + e.getName() + " declares " + e.getSize()
                            + " bytes, more than the " + maxTotal + "-byte limit on what is unpacked");
                }
                byte[] bytes = readAtMost(tar, maxTotal - total);
                total += bytes.length;
                files.add(new Object[] {e.getName(), bytes});
            }
        } catch (PatchException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            // commons-compress signals corrupt input with IOException and with unchecked exceptions alike.
            throw invalid(archiveName, "not a valid tar, .tar.gz or .tar.zst archive: "
                    + String.valueOf(e.getMessage()).replace('\n', ' '));
        }
        // Outside the catch above: a failure in our own ELF code is never mistaken for a corrupt archive.
        for (Object[] f : files) out.add(entry(archiveName, (String) f[0], (byte[]) f[1]));
        return out;
    }

    private static Entry entry(String archiveName, String name, byte[] bytes) {
        boolean elf = bytes.length >= 4 && bytes[0] == 0x7f && bytes[1] == 'E' && bytes[2] == 'L' && bytes[3] == 'F';
        if (!elf) return new Entry(name, bytes.length, false, 0);
        try (ElfFile f = ElfFile.parse(ByteSource.of(bytes))) {
            Plan plan = FilePatcher.plan(f, PlanOptions.nvml("/opt/ollama/" + name));
            return new Entry(name, bytes.length, true, plan.sites().size());
        } catch (ElfFormatException e) {
            throw invalid(archiveName, name + ": " + e.getMessage());
        }
    }

    private static InputStream decompressor(InputStream in) throws IOException {
        in.mark(4);
        byte[] m = in.readNBytes(4);
        in.reset();
        if (m.length >= 2 && (m[0] & 0xff) == 0x1f && (m[1] & 0xff) == 0x8b) {
            return new GzipCompressorInputStream(in, true);
        }
        if (m.length == 4 && (m[0] & 0xff) == 0x28 && (m[1] & 0xff) == 0xb5 && (m[2] & 0xff) == 0x2f
                && (m[3] & 0xff) == 0xfd) {
            return new ZstdCompressorInputStream(in);
        }
        return in;
    }

    private static byte[] readAtMost(InputStream in, long limit) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        int n;
        while ((n = in.read(buf)) > 0) {
            if (out.size() + (long) n > limit) throw new IOException("more than " + limit + " bytes unpacked");
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }

    private static PatchException invalid(String archive, String what) {
        return new PatchException(PatchException.Kind.INVALID_INPUT, archive + ": " + what);
    }
}
