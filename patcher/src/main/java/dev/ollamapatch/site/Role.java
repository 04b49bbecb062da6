package dev.ollamapatch.site;

/** What the site finder concluded about one occurrence of a library's name. */
public enum Role {
    /** The whole string names the library: it is retargeted. */
    LOCATOR,
    /** A message or other text that merely mentions the library: left exactly as it is. */
    MENTION,
    /** Looks like a Go string naming the library, but no reference proves where it ends: left alone. */
    UNPROVEN,
    /** A locator whose bytes are shared with something that must not change: patching it is refused. */
    CONFLICT
}
