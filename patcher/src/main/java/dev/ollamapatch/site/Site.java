package dev.ollamapatch.site;

import java.util.List;

/**
 * One string in a file that contains a library's name, with what the finder decided about it.
 *
 * @param offset     file offset of the first byte of the string
 * @param length     bytes in the string (without a terminating NUL)
 * @param vaddr      virtual address of the first byte, or -1 when not loaded
 * @param section    section holding it, or the segment ("LOAD[2]") where there are no section headers
 * @param evidence   how the extent is known ("NUL-terminated", "string header at 0x...", ...)
 * @param innerRefs  file offsets (as {@code offset}, never virtual addresses) of references that point inside
 *                   the string after its start; planning compares them with the offsets the path takes
 *                   (tail-merged C strings, dynamic-table offsets)
 * @param reason     for anything but a clean locator: why it is left alone or refused
 */
public record Site(long offset, int length, long vaddr, String section, SiteKind kind, String original,
                   LibraryTarget library, Role role, List<String> evidence, List<Long> innerRefs,
                   String reason) {

    public Site {
        evidence = List.copyOf(evidence);
        innerRefs = List.copyOf(innerRefs);
    }

    public long end() { return offset + length; }

    public boolean isGlob() { return LibraryTarget.isGlob(original); }
}
