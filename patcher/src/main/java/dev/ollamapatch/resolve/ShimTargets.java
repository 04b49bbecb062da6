package dev.ollamapatch.resolve;

import dev.ollamapatch.install.ShimInstall;
import dev.ollamapatch.plan.Action;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.PlannedSite;
import dev.ollamapatch.site.LibraryTarget;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** Every file the shim of {@code library} must be installed as, for the retargeted sites of one plan. */
public final class ShimTargets {
    private ShimTargets() {}

    /**
     * The files each site resolves to; a site planned without a resolution (a glob, or no install given) gets the
     * shim its path names relative to {@code file} ({@code $ORIGIN/...} beside it, or the absolute path).
     */
    public static List<Path> of(Plan plan, Path file, LibraryTarget library) {
        Set<Path> out = new LinkedHashSet<>();
        for (PlannedSite p : plan.sites()) {
            if (p.action() != Action.RETARGET || !p.site().library().name().equals(library.name())) continue;
            if (!p.shims().isEmpty()) out.addAll(p.shims());
            else out.add(ShimInstall.installTarget(file, p.path()));
        }
        return new ArrayList<>(out);
    }
}
