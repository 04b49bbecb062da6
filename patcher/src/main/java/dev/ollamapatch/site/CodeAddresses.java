package dev.ollamapatch.site;

import dev.ollamapatch.elf.ElfFile;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.WeakHashMap;

/**
 * Every {@code lea reg, [rip+disp32]} with a REX.W prefix (SDM vol. 2, 2.2.1.6) in the code of one
 * position-independent little-endian x86-64 file, recorded by the site finder's pass over that code
 * ({@link X86Code}), so that the loader resolution ({@code resolve.ObjectCode}), which asks which code
 * forms the address of each site, reads them from here instead of decoding the whole {@code .text}
 * again (21.5 MB in a release Ollama binary). Kept per file, weakly: it lives as long as the
 * {@link ElfFile} whose pass made it.
 *
 * <p>Each code region is recorded whole (its file offset, load address and size as the finder read
 * it), with every instruction position {@code p} of it where {@code p + 7 <= size} and the bytes match,
 * in address order: what a byte-by-byte pass over the same region with the same test finds.
 */
public final class CodeAddresses {
    /**
     * By the file's status when opened ({@link ElfFile#openedFileStatus}: the loader resolution maps the
     * same file on its own), else by the instance; weakly, so an entry goes with the instance that made it.
     */
    private static final Map<Object, CodeAddresses> BY_FILE = Collections.synchronizedMap(new WeakHashMap<>());

    private static Object key(ElfFile elf) {
        return elf.openedFileStatus().<Object>map(stamp -> stamp).orElse(elf);
    }

    /** The leas of one region: {@code at[i]} forms {@code target[i]}, for {@code i < count}, {@code at} increasing. */
    public record Leas(long[] at, long[] target, int count) {}

    private record Key(long offset, long vaddr, long size) {}

    private final List<Key> keys = new ArrayList<>();
    private final List<Leas> leas = new ArrayList<>();

    private CodeAddresses() {}

    /** What the site finder recorded for {@code elf}, if it decoded its code. */
    public static Optional<CodeAddresses> of(ElfFile elf) {
        return Optional.ofNullable(BY_FILE.get(key(elf)));
    }

    /** The leas of the region {@code [offset, offset+size)} loaded at {@code vaddr}, if it was recorded whole. */
    public Optional<Leas> region(long offset, long vaddr, long size) {
        int i = keys.indexOf(new Key(offset, vaddr, size));
        return i < 0 ? Optional.empty() : Optional.of(leas.get(i));
    }

    /**
     * Leas kept for one file at most (16 bytes each: 16 MiB; a release Ollama binary has about 230 000).
     * Code with more is not kept, so that memory stays bounded whatever the size of the code: the loader
     * resolution then decodes it itself, as it did before.
     */
    static final int MAX_LEAS = 1 << 20;

    /** Collects the regions of one pass over a file's code; {@link #publish} makes them visible. */
    static final class Recorder {
        private final CodeAddresses result = new CodeAddresses();
        private long[] at = new long[1024], target = new long[1024];
        private int n, total;
        private boolean tooMany;

        /** A new region starts: earlier leas belong to the previous one. */
        void region(long offset, long vaddr, long size) {
            finish();
            result.keys.add(new Key(offset, vaddr, size));
        }

        void lea(long atVaddr, long targetVaddr) {
            if (tooMany) return;
            if (++total > MAX_LEAS) {
                tooMany = true;
                at = target = null;
                result.leas.clear();
                return;
            }
            if (n == at.length) {
                at = Arrays.copyOf(at, n * 2);
                target = Arrays.copyOf(target, n * 2);
            }
            at[n] = atVaddr;
            target[n++] = targetVaddr;
        }

        private void finish() {
            if (!tooMany && result.keys.size() > result.leas.size()) {
                result.leas.add(new Leas(at, target, n)); // handed over whole: no copy
                at = new long[1024];
                target = new long[1024];
            }
            n = 0;
        }

        /** Makes what was recorded visible for {@code elf}; nothing when the code had more than {@link #MAX_LEAS}. */
        void publish(ElfFile elf) {
            finish();
            if (tooMany) return;
            Object k = key(elf);
            synchronized (BY_FILE) {
                BY_FILE.remove(k); // an equal key kept from an earlier instance would tie the entry to that one
                BY_FILE.put(k, result);
            }
        }
    }
}
