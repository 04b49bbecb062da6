package dev.ollamapatch.site;

/**
 * Something in the file that points at a string.
 *
 * @param target   virtual address pointed at
 * @param length   the string length proven together with the pointer (Go string header, or a
 *                 length stored beside the pointer in code), or -1 when the reference gives none
 * @param evidence where the reference is, for reports ("string header at 0x4a2f10")
 */
record Reference(long target, long length, String evidence) {
    boolean hasLength() { return length > 0; }
}
