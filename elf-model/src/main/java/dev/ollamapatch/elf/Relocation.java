package dev.ollamapatch.elf;

/**
 * One REL or RELA entry with r_info split per class ({@code symbol}, {@code type}). {@code offset} is
 * r_offset, a virtual address in executables and shared objects. REL entries have addend 0 and
 * {@code hasAddend} false: their addend is the word in place.
 */
public record Relocation(long offset, long type, long symbol, long addend, boolean hasAddend) {
}
