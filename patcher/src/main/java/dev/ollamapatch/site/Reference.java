package dev.ollamapatch.site;

/**
 * Something in the file that proves an address: code that forms it, or a relocation (or, in an
 * executable that is not position-independent, a word in a section that holds addresses).
 *
 * @param target  virtual address pointed at
 * @param length  a candidate string length found with the pointer (the word after a pointer in data,
 *                or an immediate stored beside it in code), or -1. It proves nothing on its own: a
 *                Go string's extent is taken from it only when it covers the name without a NUL, and
 *                only then do reports name it
 * @param source  how the address is formed or stored
 * @param place   virtual address of the instruction or the word that holds the address
 */
record Reference(long target, long length, Source source, long place) {

    /** How a reference is formed; each name says it in the words reports use. */
    enum Source {
        LEA("lea"),
        ADRP_ADD("adrp+add"),
        ADR("adr"),
        MOV_IMM32("mov imm32"),
        RELATIVE_RELOCATION("relative relocation"),
        SYMBOL_RELOCATION("symbol relocation"),
        RELATIVE_TABLE("relative table entry"),
        POINTER("pointer");

        final String words;

        Source(String words) { this.words = words; }

        boolean inCode() { return this == LEA || this == ADRP_ADD || this == ADR || this == MOV_IMM32; }
    }

    boolean hasLength() { return length > 0; }

    /** Where the reference is, with a virtual address labelled as such ("lea at vaddr 0x1115"). */
    String evidence() {
        return String.format("%s at vaddr 0x%x", source.words, place);
    }

    /** The same, naming the length it proves: only for a Go string whose extent that length is. */
    String evidenceWithLength() {
        return source.inCode()
                ? String.format("%s with length %d stored beside the address", evidence(), length)
                : String.format("string header at vaddr 0x%x (%s, then length %d)", place, source.words, length);
    }
}
