// IREE 3.13 (llvm-cpu): a linalg.generic whose input map reads row q - j (the deconvolution's
// natural tap order) fails in codegen once its reduction is tiled:
//
//   error: 'linalg.generic' op inferred input/output operand #0 has shape's dimension #1 to be
//          greater than or equal to 3, but found 1
//
// Reproduce: iree-compile revd2_reverse_tap_map.mlir --iree-hal-target-device=local \
//   --iree-hal-local-target-device-backends=llvm-cpu --iree-llvmcpu-target-cpu=host -o /dev/null
// The same op in correlation order (row q + j, taps flipped) compiles: bench/revd2_forms.py.
// This is REVD2 for a 2 -> 1 channel, K 3, r 2 D-SP layer on 8x8 (no bias).
module {
  func.func @main(%x: tensor<1x2x8x8xf32>) -> tensor<1x1x16x16xf32> {
    %zero = arith.constant 0.000000e+00 : f32
    %xp = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
    ^bb0(%i0: index, %i1: index, %i2: index, %i3: index):
      tensor.yield %zero : f32
    } : tensor<1x2x8x8xf32> to tensor<1x2x10x10xf32>
    %acc0 = tensor.empty() : tensor<1x1x8x2x8x2xf32>
    %w0 = arith.constant dense<"0xEB7E183EBD73DC3DF8C359BE4D1D653DCC30C6BCC05D19BDDE34523E632131BE4F3D5CBD77C5613D6D9694BDD2921CBC1739FD3D1BEBE93CE5202DBDB3CB6A3EF45D64BE8DE93B3E46614ABDACD1653D3E52413E4C3100BD97B2CBBD1953F3BCE976FABC52E9143E9614F7BB51D77B3D68423EBE2BDA61BE7FDC1BBEBC40593E8044343EC3F33CBDEE0805BED134683C3F4105BEABC37D3D659838BE44ACEABCBCEE31BEC78A5E3E3785D03D59F8E13C88C6F23DA26032BEB0D9053C0919CDBCC985903D6CBC5F3ED0A621BE358ADDBD9406813D466B263E52E3EDBD69928F3CCBBCFF3D62C9C53C47FBDABD7228163CD749E13D785F36BE1288823D23E0923DBB5D6A3EB96231BDFFE7BF3DCD6490BD065886BC88666DBCFF71523A0EF8873D"> : tensor<1x2x2x2x3x3xf32>
    %e0 = tensor.empty() : tensor<1x1x8x2x8x2xf32>
    %i0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<1x1x8x2x8x2xf32>) -> tensor<1x1x8x2x8x2xf32>
    %g0 = linalg.generic {indexing_maps = [affine_map<(n, o, q, a, p, b, c, j, i) -> (n, c, q - j + 2, p - i + 2)>, affine_map<(n, o, q, a, p, b, c, j, i) -> (o, c, a, b, j, i)>, affine_map<(n, o, q, a, p, b, c, j, i) -> (n, o, q, a, p, b)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
        ins(%xp, %w0 : tensor<1x2x10x10xf32>, tensor<1x2x2x2x3x3xf32>) outs(%i0 : tensor<1x1x8x2x8x2xf32>) {
    ^bb0(%xv: f32, %wv: f32, %o: f32):
      %m = arith.mulf %xv, %wv : f32
      %s = arith.addf %o, %m : f32
      linalg.yield %s : f32
    } -> tensor<1x1x8x2x8x2xf32>
    %full = tensor.collapse_shape %g0 [[0], [1], [2, 3], [4, 5]] : tensor<1x1x8x2x8x2xf32> into tensor<1x1x16x16xf32>
    return %full : tensor<1x1x16x16xf32>
  }
}

