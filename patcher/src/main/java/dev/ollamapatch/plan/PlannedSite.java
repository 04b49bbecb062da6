package dev.ollamapatch.plan;

import dev.ollamapatch.site.Site;
import java.nio.charset.StandardCharsets;

/**
 * A site with the decision of the plan: the exact bytes written (same length as the site), or why
 * nothing is written.
 */
public record PlannedSite(Site site, Action action, byte[] replacement, String path, String reason) {

    /** The bytes after the patch as text: the replacement, or the original where nothing changes. */
    public String replacementText() {
        return action == Action.RETARGET ? new String(replacement, StandardCharsets.ISO_8859_1) : site.original();
    }
}
