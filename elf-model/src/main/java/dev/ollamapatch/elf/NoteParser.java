package dev.ollamapatch.elf;

import static dev.ollamapatch.elf.ElfConstants.*;
import static dev.ollamapatch.elf.ElfReader.hex;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Reads notes from SHT_NOTE sections, or from PT_NOTE segments when there are no sections. */
final class NoteParser {
    private NoteParser() {
    }

    static List<Note> read(ElfFile f, ElfReader r) {
        List<Note> out = new ArrayList<>();
        if (!f.sections().isEmpty()) {
            for (SectionHeader s : f.sections()) {
                if (s.type() == SHT_NOTE) {
                    readArea(r, s.offset(), s.size(), s.addralign() == 8 ? 8 : 4, "section " + s.index(), out);
                }
            }
        } else {
            for (ProgramHeader p : f.programHeaders()) {
                if (p.type() == PT_NOTE) {
                    readArea(r, p.offset(), p.filesz(), p.align() == 8 ? 8 : 4, "PT_NOTE segment " + p.index(), out);
                }
            }
        }
        return List.copyOf(out);
    }

    /** Notes are padded to 4 bytes, or 8 for notes in an 8-aligned area (GNU property notes). */
    private static void readArea(ElfReader r, long start, long size, int align, String what, List<Note> out) {
        r.checkRange("offset of " + what, start, start, size);
        long at = start, end = start + size;
        while (end - at >= 12) { // each note advances at least 12 bytes, so the loop is bounded
            long namesz = r.u32(at), descsz = r.u32(at + 4), type = r.u32(at + 8);
            long nameAt = at + 12;
            long descAt = nameAt + pad(namesz, 4);
            long next = descAt + pad(descsz, align);
            if (namesz > end - nameAt || descAt > end || descsz > end - descAt) {
                throw new ElfFormatException("n_namesz " + hex(namesz) + " / n_descsz " + hex(descsz) + " of the note at offset "
                        + hex(at) + " run past the end of " + what + " (ends at " + hex(end) + ")");
            }
            byte[] name = r.bytes(nameAt, (int) namesz);
            int len = name.length;
            while (len > 0 && name[len - 1] == 0) {
                len--;
            }
            out.add(new Note(new String(name, 0, len, StandardCharsets.UTF_8), type, r.bytes(descAt, (int) descsz), at));
            at = next;
        }
    }

    private static long pad(long n, int align) {
        return (n + align - 1) & -align;
    }
}
