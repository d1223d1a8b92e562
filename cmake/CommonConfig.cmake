# Compile settings shared by every project target.
# mvs_common_cfg: warnings and language settings, for host and guest code alike.
# mvs_host_cfg: adds Qt hygiene definitions and sanitizers; host (Qt) targets only.
# With MVS_FUZZ the host libraries get libFuzzer's coverage instrumentation
# (fuzzer-no-link) and ASan + UBSan; the harnesses in fuzz/ add the fuzzer main.

add_library(mvs_common_cfg INTERFACE)
target_compile_features(mvs_common_cfg INTERFACE cxx_std_20)
target_compile_options(mvs_common_cfg INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Wunused
    -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough
    $<$<BOOL:${MVS_WARNINGS_AS_ERRORS}>:-Werror>)

add_library(mvs_host_cfg INTERFACE)
target_link_libraries(mvs_host_cfg INTERFACE mvs_common_cfg)
target_compile_definitions(mvs_host_cfg INTERFACE
    QT_NO_CAST_FROM_ASCII
    QT_NO_CAST_TO_ASCII
    QT_NO_URL_CAST_FROM_STRING
    QT_USE_QSTRINGBUILDER
    QT_NO_KEYWORDS
    QT_DISABLE_DEPRECATED_BEFORE=0x060400)
if(MVS_FUZZ)
    if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
        message(FATAL_ERROR "MVS_FUZZ needs clang (libFuzzer): configure with the fuzz preset")
    endif()
    target_compile_options(mvs_host_cfg INTERFACE -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    target_link_options(mvs_host_cfg INTERFACE -fsanitize=address,undefined)
elseif(MVS_SANITIZE)
    target_compile_options(mvs_host_cfg INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(mvs_host_cfg INTERFACE -fsanitize=address,undefined)
endif()
