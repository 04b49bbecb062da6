package dev.ollamapatch.plan;

import dev.ollamapatch.resolve.Resolution;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.site.Site;

import java.util.List;
import java.util.function.Function;

/**
 * Inputs of planning besides the scan.
 *
 * @param libraries       the libraries to retarget, each with the path it gets
 * @param installDir      absolute directory the patched file will live in; glob sites, which Go
 *                        expands without knowing {@code $ORIGIN}, get this directory instead of it.
 *                        Null when unknown (then glob sites are refused).
 * @param resolutions     where the loader will look for each site (package {@code resolve}); null where
 *                        no install is given: {@code $ORIGIN} is then taken to be the file's own directory
 */
public record PlanOptions(List<LibraryTarget> libraries, String installDir, Function<Site, Resolution> resolutions) {
    public PlanOptions {
        libraries = List.copyOf(libraries);
    }

    public PlanOptions(List<LibraryTarget> libraries, String installDir) {
        this(libraries, installDir, null);
    }
}
