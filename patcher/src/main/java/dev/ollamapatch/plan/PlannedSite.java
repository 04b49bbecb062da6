package dev.ollamapatch.plan;

import dev.ollamapatch.resolve.Resolution;
import dev.ollamapatch.site.Site;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * A site with the decision of the plan: the exact bytes written (same length as the site), or why
 * nothing is written; where the loader will look for it ({@code resolution}, null when not worked out)
 * and every file the shim must exist as for that ({@code shims}, empty when not worked out).
 */
public record PlannedSite(Site site, Action action, byte[] replacement, String path, String reason,
                          Resolution resolution, List<Path> shims) {

    public PlannedSite {
        shims = List.copyOf(shims);
    }

    public PlannedSite(Site site, Action action, byte[] replacement, String path, String reason) {
        this(site, action, replacement, path, reason, null, List.of());
    }

    /** The bytes after the patch as text: the replacement, or the original where nothing changes. */
    public String replacementText() {
        return action == Action.RETARGET ? new String(replacement, StandardCharsets.ISO_8859_1) : site.original();
    }
}
