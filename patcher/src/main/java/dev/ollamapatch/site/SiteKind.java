package dev.ollamapatch.site;

/** How a string is stored, which decides how its extent is known. */
public enum SiteKind {
    /** NUL-terminated, in loaded read-only or writable data. */
    C_STRING("c-string"),
    /** Go string: no terminator; the extent comes from a {pointer, length} reference. */
    GO_STRING("go-string"),
    /** An entry of the dynamic string table, named by the dynamic section or version needs. */
    DYNSTR("dynstr");

    private final String label;

    SiteKind(String label) { this.label = label; }

    public String label() { return label; }
}
