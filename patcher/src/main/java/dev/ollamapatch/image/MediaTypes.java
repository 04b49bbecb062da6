package dev.ollamapatch.image;

import dev.ollamapatch.archive.ArchiveFormat;

import java.util.Map;
import java.util.Optional;

/** The media types of the OCI image specification and Docker's image manifest v2 schema 2 that this tool reads. */
final class MediaTypes {
    static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
    static final String OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
    static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
    static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
    static final String DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
    static final String DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    /** Layer media types and how their blobs are compressed. */
    private static final Map<String, ArchiveFormat> LAYERS = Map.of(
            OCI_LAYER, ArchiveFormat.TAR,
            OCI_LAYER + "+gzip", ArchiveFormat.TAR_GZ,
            OCI_LAYER + "+zstd", ArchiveFormat.TAR_ZST,
            "application/vnd.oci.image.layer.nondistributable.v1.tar", ArchiveFormat.TAR,
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", ArchiveFormat.TAR_GZ,
            "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", ArchiveFormat.TAR_ZST,
            DOCKER_LAYER_GZIP, ArchiveFormat.TAR_GZ,
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", ArchiveFormat.TAR_GZ,
            "application/vnd.docker.image.rootfs.diff.tar", ArchiveFormat.TAR);

    private MediaTypes() {}

    static Optional<ArchiveFormat> layerFormat(String mediaType) {
        return Optional.ofNullable(LAYERS.get(mediaType));
    }

    static boolean isIndex(String mediaType) {
        return OCI_INDEX.equals(mediaType) || DOCKER_LIST.equals(mediaType);
    }

    static boolean isManifest(String mediaType) {
        return OCI_MANIFEST.equals(mediaType) || DOCKER_MANIFEST.equals(mediaType);
    }

    static boolean isImageConfig(String mediaType) {
        return OCI_CONFIG.equals(mediaType) || DOCKER_CONFIG.equals(mediaType);
    }

    /** The new layer's media type: the manifest's own family, with the compression chosen. */
    static String layerType(String manifestType, ArchiveFormat format) {
        if (DOCKER_MANIFEST.equals(manifestType) && format == ArchiveFormat.TAR_GZ) return DOCKER_LAYER_GZIP;
        return switch (format) {
            case TAR -> OCI_LAYER;
            case TAR_GZ -> OCI_LAYER + "+gzip";
            case TAR_ZST -> OCI_LAYER + "+zstd";
        };
    }

    /** The compression of a docker save layer member, by its first bytes (gzip: RFC 1952; zstd: RFC 8878 frame magic). */
    static ArchiveFormat sniff(byte[] head) {
        if (head.length >= 2 && (head[0] & 0xFF) == 0x1F && (head[1] & 0xFF) == 0x8B) return ArchiveFormat.TAR_GZ;
        if (head.length >= 4 && (head[0] & 0xFF) == 0x28 && (head[1] & 0xFF) == 0xB5 && (head[2] & 0xFF) == 0x2F
                && (head[3] & 0xFF) == 0xFD) return ArchiveFormat.TAR_ZST;
        return ArchiveFormat.TAR;
    }
}
