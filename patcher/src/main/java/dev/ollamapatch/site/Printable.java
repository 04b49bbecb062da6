package dev.ollamapatch.site;

/**
 * The one escaping of file contents for display: a string from a binary shown between quotes in a
 * report or a reason. Every byte outside printable ASCII, and the quote and backslash that would make
 * the quoting ambiguous, shows as '.'. It lives here, at the bottom, because the site finder's
 * reasons quote file contents as the reports do.
 */
public final class Printable {
    private Printable() {}

    public static String of(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray()) b.append(c >= 0x20 && c < 0x7F && c != '"' && c != '\\' ? c : '.');
        return b.toString();
    }
}
