package dev.ollamapatch.site;

import dev.ollamapatch.elf.ElfFile;

import java.nio.ByteBuffer;
import java.util.Set;

/**
 * Searches the bytes a file holds as data (every region except sections of code) for a pattern,
 * window by window through the mapped file. The seam through which planning looks at a file's bytes
 * without knowing how regions and windows are laid out.
 */
public final class DataScan {
    /** One occurrence: {@code index} is where the pattern starts in {@code buf}. */
    public interface Hit { void at(ByteBuffer buf, int index); }

    private DataScan() {}

    /** Every occurrence of {@code pattern} outside code sections and the regions named in {@code skip}. */
    public static void forEach(ElfFile elf, byte[] pattern, Set<String> skip, Hit hit) {
        for (Region r : Region.of(elf)) {
            if ((r.exec() && !r.segment()) || skip.contains(r.name())) continue;
            ReferenceCollector.forEachWindow(elf, r, (buf, base, from, to) ->
                    ByteSearch.forEach(buf, pattern, from, to, i -> hit.at(buf, i)));
        }
    }

    /** Whether {@code pattern} occurs anywhere outside code sections. */
    public static boolean contains(ElfFile elf, byte[] pattern) {
        boolean[] found = {false};
        forEach(elf, pattern, Set.of(), (buf, i) -> found[0] = true);
        return found[0];
    }
}
