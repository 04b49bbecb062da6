package dev.ollamapatch.plan;

import dev.ollamapatch.site.LibraryTarget;
import java.util.List;

/**
 * Inputs of planning besides the scan.
 *
 * @param libraries       the libraries to retarget, each with the path it gets
 * @param installDir      absolute directory the patched file will live in; glob sites, which Go
 *                        expands without knowing {@code $ORIGIN}, get this directory instead of it.
 *                        Null when unknown (then glob sites are refused).
 */
public record PlanOptions(List<LibraryTarget> libraries, String installDir) {
    public PlanOptions {
        libraries = List.copyOf(libraries);
    }
}
