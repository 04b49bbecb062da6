package dev.ollamapatch.report;

/** What became of one file, as reports name it. */
public enum Status {
    /** scan: the file has sites to retarget or refuse */
    FOUND("found"),
    /** dry run: the file would be patched */
    PLANNED("planned"),
    PATCHED("patched"),
    ALREADY_PATCHED("already-patched"),
    NOTHING_TO_PATCH("nothing-to-patch"),
    REFUSED("refused");

    private final String label;

    Status(String label) { this.label = label; }

    /** The word in the text and JSON reports. */
    public String label() { return label; }
}
