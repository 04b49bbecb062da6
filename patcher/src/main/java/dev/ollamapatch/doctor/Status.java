package dev.ollamapatch.doctor;

/** The outcome of one check. */
public enum Status {
    OK, WARN, FAIL;

    /** As printed: {@code ok}, {@code warn}, {@code fail}. */
    public String word() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
